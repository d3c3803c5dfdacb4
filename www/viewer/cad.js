// The CAD half of the viewer page: toolbar, part tree, pointer controls and the frame loop.
// Geometry, pixels and the watermarks stay in wasm (viewer-wasm/src/cad.rs and web.rs); this
// script sends it drags, wheel turns and clicks in frame pixels and shows what it returns: the
// outline (ids and neutral labels such as "Part 3"), the measured distance, the frame time.
// Names from inside the file (parts, layers) never reach this script or the DOM as text: wasm
// draws them onto canvases (`viewer.drawName`), docs/viewer.md#outline.

const $ = (id) => document.getElementById(id);

/** Largest frame side in pixels; larger windows get a frame the browser scales up. */
const MAX_FRAME_SIDE = 4096;
/** Height of a drawn name, CSS pixels. */
const NAME_HEIGHT = 16;

/** The computed text colour of `el` as 0xRRGGBB, for `drawName`. */
function inkOf(el) {
  const [r = 0, g = 0, b = 0] = (getComputedStyle(el).color.match(/\d+/g) || []).map(Number);
  return (r << 16) | (g << 8) | b;
}

/**
 * A canvas showing the real name of outline entry `id`, drawn by wasm `cssWidth` CSS pixels
 * wide in colour `rgb`; null when the entry has no name (show its label instead).
 */
function nameCanvas(viewer, id, cssWidth, rgb) {
  const dpr = window.devicePixelRatio || 1;
  const c = document.createElement('canvas');
  c.className = 'name';
  const w = Math.max(1, Math.round(cssWidth * dpr));
  const h = Math.max(1, Math.round(NAME_HEIGHT * dpr));
  if (!viewer.drawName(id, c, w, h, rgb)) return null;
  c.style.width = `${w / dpr}px`;
  c.style.height = `${h / dpr}px`;
  return c;
}

/**
 * Starts the CAD UI for an opened viewer. `onError(e)` ends the session on a failed frame.
 * Returns `{ redraw, stop }`; `stop()` detaches every listener and ignores frames in flight.
 */
export function startCad(viewer, canvas, onError) {
  const life = new AbortController();
  const signal = life.signal;
  const kind = viewer.kind();
  const stage = $('stage');
  document.body.dataset.kind = kind;
  document.body.dataset.backend = viewer.backend();
  $('toolbar').hidden = true;
  $('cad-toolbar').hidden = false;
  $('cad-title').textContent = viewer.title();
  let dirty = true;
  let busy = false;
  let frames = 0;
  let measure = 'off';

  // Frame pixels per CSS pixel: the device pixel ratio, less when the frame is capped.
  const pixelScale = () => {
    const dpr = window.devicePixelRatio || 1;
    const r = stage.getBoundingClientRect();
    return Math.min(dpr, MAX_FRAME_SIDE / Math.max(1, r.width, r.height));
  };
  const size = () => {
    const k = pixelScale();
    const r = stage.getBoundingClientRect();
    return [Math.max(16, Math.round(r.width * k)), Math.max(16, Math.round(r.height * k))];
  };
  const toFrame = (e) => {
    const k = pixelScale();
    return [e.offsetX * k, e.offsetY * k];
  };

  async function frame() {
    if (!dirty || busy || signal.aborted) return;
    dirty = false;
    busy = true;
    const [w, h] = size();
    try {
      const ms = await viewer.draw(canvas, w, h);
      if (signal.aborted) return;
      frames += 1;
      if (frames === 1) document.body.dataset.firstFrameMs = performance.now().toFixed(1);
      document.body.dataset.frameMs = ms.toFixed(1);
      document.body.dataset.frames = String(frames);
      document.body.dataset.frameSize = `${w}x${h}`;
    } catch (e) {
      busy = false;
      if (signal.aborted) return; // the session already ended; its screen stays
      return onError(e);
    }
    busy = false;
    if (dirty) requestAnimationFrame(frame);
  }
  const redraw = () => {
    if (signal.aborted) return;
    dirty = true;
    if (!busy) requestAnimationFrame(frame);
  };

  // Part tree (models) or layer list (drawings), with show/hide toggles. Entries are
  // `{id, kind, label, parent, depth, part, count}`; each name is drawn by wasm when its row
  // scrolls into view (files can have 100 000 parts).
  const outline = JSON.parse(viewer.outline());
  const byId = new Map(outline.map((e) => [e.id, e]));
  $('parts-title').textContent = kind === 'model' ? 'Parts' : 'Layers';
  const list = $('parts-list');
  list.replaceChildren();
  let selected = null;
  const paint = (span) => {
    const c = nameCanvas(viewer, Number(span.dataset.id), span.clientWidth, inkOf(span));
    if (c) span.replaceChildren(c);
  };
  const names = new IntersectionObserver((seen) => {
    for (const s of seen) {
      if (!s.isIntersecting) continue;
      names.unobserve(s.target);
      paint(s.target);
    }
  }, { root: $('parts') });
  signal.addEventListener('abort', () => names.disconnect());
  for (const entry of outline) {
    const li = document.createElement('li');
    li.style.paddingLeft = `${Math.min(entry.depth, 32) * 14}px`;
    li.dataset.kind = entry.kind;
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.setAttribute('aria-label', `Show ${entry.label}`);
    box.addEventListener('change', () => {
      viewer.setHidden(entry.id, !box.checked);
      // Children follow their parent's box.
      for (const other of list.querySelectorAll('li')) {
        if (isUnder(Number(other.dataset.id), entry.id)) other.querySelector('input').checked = box.checked;
      }
      redraw();
    });
    // The neutral label until wasm draws the real name over it.
    const name = document.createElement('span');
    name.dataset.id = String(entry.id);
    name.textContent = entry.label;
    name.setAttribute('aria-label', entry.label);
    name.addEventListener('click', () => {
      if (kind !== 'model') return;
      const before = list.querySelector('span.selected');
      selected = selected === entry.id ? null : entry.id;
      if (before) { before.classList.remove('selected'); if (before.firstChild instanceof HTMLCanvasElement) paint(before); }
      if (selected !== null) { name.classList.add('selected'); if (name.firstChild instanceof HTMLCanvasElement) paint(name); }
      viewer.select(selected === null ? -1 : selected);
      redraw();
    });
    li.dataset.id = String(entry.id);
    li.append(box, name);
    if (entry.count) {
      const n = document.createElement('small');
      n.textContent = entry.count.toLocaleString('en');
      li.append(n);
    }
    list.append(li);
    names.observe(name);
  }
  function isUnder(id, ancestor) {
    for (let n = id, guard = 0; n !== null && n !== undefined && guard < 64; n = byId.get(n)?.parent, guard++) {
      if (n === ancestor) return true;
    }
    return false;
  }
  $('parts').hidden = outline.length === 0;
  const stats = JSON.parse(viewer.stats() || '{}');
  $('cad-stats').textContent = kind === 'model'
    ? `${(stats.primitives ?? 0).toLocaleString('en')} triangles · ${stats.groups} parts · ${stats.unit} · ${viewer.backend()}`
    : `${(stats.primitives ?? 0).toLocaleString('en')} entities · ${stats.groups} layers${stats.unit ? ` · ${stats.unit}` : ''}`;
  $('cad-hint').hidden = false;
  $('cad-hint').textContent = kind === 'model'
    ? 'Drag to orbit · right-drag or Shift-drag to pan · wheel to zoom'
    : 'Drag to pan · wheel to zoom';

  // Views and tools.
  for (const b of $('cad-views').querySelectorAll('button')) {
    b.addEventListener('click', () => setView(b.dataset.view), { signal });
  }
  function setView(name) {
    const [w, h] = size();
    if (name === 'fit') viewer.fit(w, h);
    else viewer.setView(name, w, h);
    redraw();
  }
  const axis = $('section-axis');
  const at = $('section-at');
  const section = () => {
    at.disabled = axis.value === 'off';
    viewer.setSection(axis.value, Number(at.value));
    redraw();
  };
  axis.addEventListener('change', section, { signal });
  at.addEventListener('input', section, { signal });
  $('edges').addEventListener('change', (e) => { viewer.setEdges(e.target.checked); redraw(); }, { signal });
  $('measure-mode').addEventListener('change', (e) => {
    measure = e.target.value;
    document.body.dataset.measuring = String(measure !== 'off');
    viewer.clearMeasure();
    $('measure-result').hidden = true;
    redraw();
  }, { signal });

  // Pointer: drag orbits (models) or pans (drawings); right or Shift drag pans; wheel zooms.
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    drag = { x: e.clientX, y: e.clientY, moved: 0, pan: e.button !== 0 || e.shiftKey };
  }, { signal });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const k = pixelScale();
    const dx = (e.clientX - drag.x) * k;
    const dy = (e.clientY - drag.y) * k;
    drag.moved += Math.abs(dx) + Math.abs(dy);
    drag.x = e.clientX;
    drag.y = e.clientY;
    const [w, h] = size();
    if (drag.pan) viewer.pan(dx, dy, w, h);
    else viewer.orbit(dx, dy, w, h);
    redraw();
  }, { signal });
  canvas.addEventListener('pointerup', (e) => {
    const click = drag && drag.moved < 4;
    drag = null;
    if (click && measure !== 'off' && e.button === 0) {
      const [x, y] = toFrame(e);
      const [w, h] = size();
      showMeasurement(JSON.parse(viewer.measureClick(x, y, w, h, measure === 'edge')));
      redraw();
    }
  }, { signal });
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    const [x, y] = toFrame(e);
    const [w, h] = size();
    viewer.zoom(Math.exp(-e.deltaY * 0.0015), x, y, w, h);
    redraw();
  }, { passive: false, signal });
  document.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey) return;
    const views = { f: 'fit', i: 'iso', 1: 'front', 7: 'top', 3: 'right' };
    if (views[e.key.toLowerCase()]) setView(views[e.key.toLowerCase()]);
    if (e.key === 'Escape') { viewer.clearMeasure(); $('measure-result').hidden = true; redraw(); }
  }, { signal });
  window.addEventListener('resize', redraw, { signal });

  function showMeasurement(m) {
    document.body.dataset.measure = JSON.stringify(m);
    const out = $('measure-result');
    const unit = m.unit_declared === false ? `${m.unit} (assumed)` : m.unit;
    const fmt = (v) => v.toLocaleString('en', { maximumFractionDigits: 3, minimumFractionDigits: 3 });
    if (m.kind === 'distance') out.textContent = `Distance ${fmt(m.value)} ${unit}`;
    else if (m.kind === 'edge') {
      out.replaceChildren(`Edge length ${fmt(m.value)} ${unit}`);
      // `part` is the clicked part's outline id; its name is drawn by wasm, in the output's ink.
      const entry = byId.get(m.part);
      if (entry) {
        const c = nameCanvas(viewer, entry.id, 200, inkOf(out));
        out.append(' · ', c || entry.label);
      }
    }
    else if (m.kind === 'point') out.textContent = 'Click a second point';
    else out.textContent = 'Nothing under the cursor';
    out.hidden = false;
  }

  setView('fit');
  return { redraw, stop: () => life.abort() };
}
