// The viewer page's script: UI wiring only. Every byte of the document, the content key and the
// rendered pixels stay inside the wasm module (viewer-wasm/src/web.rs); this script sees page
// counts, sizes, progress and error kinds. When a partner portal frames the page, embedding.js
// passes page count, page, zoom and error kinds to it (docs/embedding.md) and nothing else.
import init, { Viewer, viewer_version } from '/viewer/pkg/veilmark_viewer_wasm.js';
import { framed, framingRefused, notify, onCommand, ZOOM_MODES } from '/viewer/embedding.js';
import { startCad } from '/viewer/cad.js';

const $ = (id) => document.getElementById(id);
const canvas = $('page-canvas');
const HIDDEN_WIPE_MS = 5 * 60 * 1000; // tab hidden this long: wipe key and pixels
const RENEW_EVERY_MS = 20 * 1000; // leases last 60 s

const SCREENS = {
  gone: ['This link is no longer available', 'It was revoked by its owner or has expired.'],
  'link-expired': ['This link has expired', 'Ask the sender for a new link.'],
  revoked: ['Access revoked', 'The owner revoked this link. The document was removed from this page.'],
  expired: ['Your viewing session ended', 'The lease expired. Reload the page to open the document again.'],
  ended: ['Your viewing session ended', 'Reload the page to open the document again.'],
  'view-limit': ['View limit reached', 'This link has been opened as many times as its owner allowed.'],
  'unknown-link': ['Unknown link', 'Check that you copied the whole link.'],
  'rate-limited': ['Too many attempts', 'Wait a minute and reload the page.'],
  network: ['Network problem', 'The document could not be fetched. Check your connection and reload.'],
  integrity: ['The document could not be verified', 'What the server sent does not verify; nothing is shown.'],
  render: ['This document cannot be shown', ''],
  server: ['The server could not answer', ''],
  'not-embeddable': ['This document cannot be shown here',
    'The site around this page is not allowed to embed protected documents. Open the link on its own.'],
};

let viewer = null;
let page = 0;
let zoom = 'fit-width';
let drawn = null; // the CSS scale the current page was last drawn at
let hiddenSince = null;
let events = null;
let timers = [];
let cad = null; // the CAD UI when the document is a model or drawing

// Milestones since navigation (performance.now()), read by tests/e2e/viewer.bench.mjs.
const milestone = (name) => { document.body.dataset[name] = performance.now().toFixed(1); };

function show(id) {
  for (const s of ['loading', 'passcode-form', 'terms-form', 'error']) $(s).hidden = s !== id;
  canvas.hidden = id !== null;
}

function end(kind, detail) {
  if (cad) cad.stop();
  if (viewer) viewer.wipe(canvas);
  canvas.removeAttribute('aria-label');
  for (const t of document.querySelectorAll('#thumbs canvas')) { t.width = 0; t.height = 0; }
  viewer = null;
  for (const t of timers) clearInterval(t);
  timers = [];
  if (events) events.close();
  $('toolbar').hidden = true;
  $('cad-toolbar').hidden = true;
  $('parts').hidden = true;
  $('parts-list').replaceChildren(); // part names drawn by wasm go with the document
  $('measure-result').hidden = true;
  $('measure-result').replaceChildren();
  $('cad-hint').hidden = true;
  cad = null;
  $('thumbs').hidden = true;
  $('thumbs').replaceChildren();
  const [title, text] = SCREENS[kind] || SCREENS.server;
  $('error-title').textContent = title;
  $('error-text').textContent = text || detail || '';
  document.body.dataset.state = kind;
  show('error');
  if (kind === 'revoked') notify('revoked');
  else notify('error', { kind: kind in SCREENS ? kind : 'server' });
}

/** The zoom as the embedding protocol reports it: a mode name or a number (1 = 100 %). */
function zoomValue() {
  return ZOOM_MODES.includes(zoom) ? zoom : Number(zoom);
}

/** CSS pixels per PDF unit of the current page as drawn (what fit-width/fit-page resolved to). */
function drawnScale() {
  return drawn === null ? null : Math.round(drawn * 1000) / 1000;
}

function scaleFor(index) {
  const [w, h] = viewer.pageSize(index);
  const dpr = window.devicePixelRatio || 1;
  const stage = $('stage');
  const availW = Math.max(100, stage.clientWidth - 40);
  const availH = Math.max(100, stage.clientHeight - 40);
  let css;
  if (zoom === 'fit-width') css = availW / w;
  else if (zoom === 'fit-page') css = Math.min(availW / w, availH / h);
  else css = Number(zoom);
  drawn = css;
  canvas.style.width = `${Math.round(w * css)}px`;
  return css * dpr;
}

function renderPage() {
  if (!viewer) return;
  if (cad) return cad.redraw();
  try {
    const ms = viewer.render(canvas, page, scaleFor(page));
    document.body.dataset.renderMs = ms.toFixed(1);
    document.body.dataset.page = String(page + 1);
  } catch (e) {
    return end(e.name, e.message);
  }
  $('page').value = page + 1;
  for (const [i, t] of [...document.querySelectorAll('#thumbs canvas')].entries()) {
    t.classList.toggle('current', i === page);
  }
  viewer.report(page + 1).catch(() => {});
}

function go(index) {
  if (!viewer) return;
  const n = viewer.pageCount();
  const next = Math.min(n - 1, Math.max(0, index));
  if (next !== page) {
    page = next;
    renderPage();
    notify('page-changed', { page: page + 1, pageCount: n, scale: drawnScale() });
  }
}

function setZoom(z) {
  zoom = z;
  const select = $('zoom');
  if ([...select.options].some((o) => o.value === String(z))) select.value = String(z);
  renderPage();
  if (viewer) notify('zoom-changed', { zoom: zoomValue(), scale: drawnScale() });
}

function stepZoom(dir) {
  const steps = [0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8];
  const cur = typeof zoom === 'number' || !isNaN(Number(zoom)) ? Number(zoom) : parseFloat(canvas.style.width) / viewer.pageSize(page)[0];
  const next = dir > 0 ? steps.find((s) => s > cur + 1e-6) ?? 8 : [...steps].reverse().find((s) => s < cur - 1e-6) ?? 0.25;
  setZoom(next);
}

function thumbnails() {
  const box = $('thumbs');
  box.hidden = false;
  const n = viewer.pageCount();
  let i = 0;
  const next = () => {
    if (!viewer || i >= n) return;
    const c = document.createElement('canvas');
    const index = i;
    c.addEventListener('click', () => go(index));
    c.title = `Page ${index + 1}`;
    box.append(c);
    try { viewer.render(c, index, 0.2); } catch { return; }
    if (index === page) c.classList.add('current');
    i += 1;
    setTimeout(next, 0);
  };
  setTimeout(next, 0);
}

// The terms text of the last `terms` answer, accepted with the next open, and the passcode
// that reached it (the server checks the passcode before it shows the terms).
let termsShown = null;
let lastPasscode;

async function open(token, passcode, acceptTerms) {
  show('loading');
  try {
    const gfx = new URLSearchParams(location.search).get('gfx');
    viewer = await Viewer.open(token, passcode, (p) => {
      $('progress').value = p;
      if (p >= 1) $('loading-text').textContent = 'Building the view…';
    }, gfx === 'webgl2', acceptTerms);
    milestone('openedMs');
  } catch (e) {
    if (e.name === 'terms') {
      // The organisation's non-disclosure terms, shown as text (never as markup); accepting
      // sends their SHA-256 with the licence request, which the audit log records.
      termsShown = e.message;
      lastPasscode = passcode;
      $('terms-text').textContent = e.message;
      document.body.dataset.state = 'terms';
      show('terms-form');
      notify('terms-required');
      return;
    }
    if (e.name === 'passcode') {
      show('passcode-form');
      notify('passcode-required');
      $('passcode-error').textContent = passcode ? e.message : '';
      return;
    }
    return end(e.name, e.message);
  }
  $('title').textContent = viewer.title();
  document.title = `${viewer.title()} — Veilmark`;
  // The classification level: drawn into every frame by the viewer (banner), repeated here.
  const level = viewer.level();
  document.body.dataset.level = level;
  const rank = Math.min(viewer.levelRank(), 3);
  for (const id of ['level', 'cad-level']) {
    $(id).textContent = level;
    $(id).dataset.rank = String(rank);
    $(id).hidden = !level;
  }
  // What the visible watermark says, for screen readers (and the demo's browser test).
  canvas.setAttribute('aria-label', `Protected document, watermarked for ${viewer.watermarkLabel()}`);
  if (viewer.kind() !== 'pdf') return openCad();
  $('count').textContent = viewer.pageCount();
  $('page').max = viewer.pageCount();
  $('toolbar').hidden = false;
  show(null);
  page = 0;
  renderPage();
  milestone('firstPageMs');
  document.body.dataset.state = 'ready';
  notify('ready', { pageCount: viewer.pageCount(), page: page + 1, zoom: zoomValue(), scale: drawnScale() });
  if (document.body.dataset.controls !== 'none') thumbnails();
  watch();
}

/** A CAD model or drawing: its own toolbar, part tree and frame loop (cad.js). */
function openCad() {
  show(null);
  cad = startCad(viewer, canvas, (e) => end(e.name, e.message));
  // `#test-hooks`: the end-to-end tests find known vertices on screen to measure between them.
  if (location.hash.includes('test-hooks')) {
    const v = viewer;
    window.veilmarkTest = { project: (x, y, z, w, h) => v.projectPoint(x, y, z, w, h) };
  }
  milestone('firstPageMs');
  document.body.dataset.state = 'ready';
  notify('ready', { pageCount: 1, page: 1, zoom: 'fit-page', scale: null });
  viewer.report(1).catch(() => {});
  watch();
}

/** Revocation feed, lease renewal and the expiry and hidden-tab checks. */
function watch() {
  events = new EventSource(viewer.eventsUrl());
  events.addEventListener('revoked', () => end('revoked'));
  // The lease or the link ran out: the server ends the stream; wipe now, not at the next tick.
  events.addEventListener('expired', () => end('expired'));
  timers.push(setInterval(() => {
    if (!viewer) return;
    viewer.renew().catch((e) => end(e.name === 'gone' ? 'revoked' : e.name, e.message));
  }, RENEW_EVERY_MS));
  timers.push(setInterval(() => {
    if (viewer && Date.now() / 1000 >= viewer.leaseExpiresAt()) end('expired');
    if (viewer && hiddenSince && Date.now() - hiddenSince > HIDDEN_WIPE_MS) end('ended');
  }, 500));
}

function wire() {
  $('prev').addEventListener('click', () => go(page - 1));
  $('next').addEventListener('click', () => go(page + 1));
  $('page').addEventListener('change', (e) => go(Number(e.target.value) - 1));
  $('zoom').addEventListener('change', (e) => setZoom(e.target.value));
  $('zoom-in').addEventListener('click', () => stepZoom(1));
  $('zoom-out').addEventListener('click', () => stepZoom(-1));
  window.addEventListener('resize', () => {
    if (!String(zoom).startsWith('fit') || !viewer) return;
    const before = drawnScale();
    renderPage();
    if (drawnScale() !== before) notify('zoom-changed', { zoom: zoomValue(), scale: drawnScale() });
  });
  document.addEventListener('keydown', (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (mod && ['s', 'p', 'c', 'a', 'x'].includes(e.key.toLowerCase())) { e.preventDefault(); return; }
    if (e.target instanceof HTMLInputElement || cad) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') { e.preventDefault(); go(page + 1); }
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); go(page - 1); }
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End' && viewer) go(viewer.pageCount() - 1);
    else if (e.key === '+' || e.key === '=') stepZoom(1);
    else if (e.key === '-') stepZoom(-1);
    else if (e.key === '0') setZoom('fit-width');
  });
  // No copy, drag or context-menu path (there is no text layer to copy in the first place).
  for (const ev of ['contextmenu', 'copy', 'cut', 'dragstart', 'selectstart', 'drop']) {
    document.addEventListener(ev, (e) => e.preventDefault());
  }
  // Printing: the print style sheet replaces the page with a notice (viewer.css).
  document.addEventListener('visibilitychange', () => {
    hiddenSince = document.hidden ? Date.now() : null;
  });
  window.addEventListener('pagehide', () => { if (viewer) viewer.wipe(canvas); });
  $('passcode-form').addEventListener('submit', (e) => {
    e.preventDefault();
    open(token(), $('passcode').value);
  });
  $('terms-form').addEventListener('submit', (e) => {
    e.preventDefault();
    open(token(), lastPasscode, termsShown);
  });
}

function token() {
  return location.pathname.split('/').filter(Boolean).pop() || '';
}

// Commands from an embedding portal, already checked for origin and shape by embedding.js.
onCommand((n) => go(n - 1), (z) => { if (viewer) setZoom(z); });
// `#controls=none` (set by <veilmark-viewer controls="none">): the portal brings its own buttons,
// so the toolbar and thumbnails go; keyboard navigation stays.
function applyControls() {
  const none = framed && new URLSearchParams(location.hash.slice(1)).get('controls') === 'none';
  if (none) document.body.dataset.controls = 'none';
  else delete document.body.dataset.controls;
  if (!none && viewer && !$('thumbs').childElementCount) thumbnails();
}
if (framed) {
  document.body.dataset.embedded = 'true';
  applyControls();
  window.addEventListener('hashchange', () => { applyControls(); renderPage(); });
}

// A module that is present but does not instantiate (wrong build, truncated file) rejects here;
// boot.js shows why. The top-level await makes boot.js's import wait for this.
await init();
milestone('wasmReadyMs');
$('version').textContent = viewer_version();
wire();
if (framingRefused()) end('not-embeddable');
else open(token(), undefined);
