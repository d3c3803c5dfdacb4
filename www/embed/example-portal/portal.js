// The example portal's own script: a document list and toolbar driving <veilmark-viewer> through
// its public API (goToPage, zoom, page, pageCount; ready, page-changed, zoom-changed,
// passcode-required, error, revoked events). It never sees the document: only page numbers,
// zoom and error kinds.
const $ = (id) => document.getElementById(id);
const viewer = $('viewer');
const ZOOM_STEPS = [0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8];
const STATUS = {
  loading: 'Opening', ready: 'Ready', passcode: 'Passcode needed', revoked: 'Access revoked', error: 'Unavailable',
};
const ERRORS = {
  'frame-blocked': 'The viewer could not be shown here (this portal is not allowed to embed it).',
  'link-expired': 'This link has expired. Ask Arden Motors for a new one.',
  gone: 'This document is no longer shared with you.',
  'view-limit': 'This link has been opened as often as allowed.',
};

function log(type, detail) {
  const li = document.createElement('li');
  li.dataset.type = type;
  li.dataset.detail = JSON.stringify(detail ?? {});
  li.textContent = `${new Date().toLocaleTimeString()}  ${type}  ${li.dataset.detail}`;
  const list = $('event-log');
  list.append(li);
  list.scrollTop = list.scrollHeight;
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status').textContent = text || STATUS[state] || state;
}

function enableControls(on) {
  for (const el of document.querySelectorAll('.controls button, .controls input, .controls select')) el.disabled = !on;
}

function showPage() {
  $('page').value = viewer.page;
  $('page').max = viewer.pageCount;
  $('count').textContent = viewer.pageCount || '–';
  $('prev').disabled = viewer.page <= 1;
  $('next').disabled = viewer.page >= viewer.pageCount;
}

/** The zoom as drawn, also for the fit modes (the viewer reports the scale they resolved to). */
function currentZoom() {
  return viewer.scale ?? (typeof viewer.zoomLevel === 'number' ? viewer.zoomLevel : 1);
}

function open(button) {
  for (const b of document.querySelectorAll('.doc')) b.setAttribute('aria-current', String(b === button));
  $('doc-title').textContent = button.dataset.title;
  $('doc-ref').textContent = button.dataset.ref;
  $('doc-pages').textContent = 'opening…';
  $('zoom').value = 'fit-width';
  setStatus('loading');
  enableControls(false);
  viewer.label = button.dataset.title;
  viewer.src = button.dataset.src;
}

viewer.addEventListener('ready', (e) => {
  log('ready', e.detail);
  setStatus('ready');
  enableControls(true);
  $('doc-pages').textContent = `${e.detail.pageCount} pages`;
  showPage();
});
viewer.addEventListener('page-changed', (e) => { log('page-changed', e.detail); showPage(); });
viewer.addEventListener('zoom-changed', (e) => {
  log('zoom-changed', e.detail);
  const z = String(e.detail.zoom);
  $('zoom').value = [...$('zoom').options].some((o) => o.value === z) ? z : '';
});
viewer.addEventListener('passcode-required', () => {
  log('passcode-required');
  setStatus('passcode');
  $('doc-pages').textContent = 'enter the passcode you received separately';
});
viewer.addEventListener('error', (e) => {
  log('error', e.detail);
  setStatus('error');
  enableControls(false);
  $('doc-pages').textContent = ERRORS[e.detail.kind] || `not available (${e.detail.kind})`;
});
viewer.addEventListener('revoked', () => {
  log('revoked');
  setStatus('revoked');
  enableControls(false);
  $('doc-pages').textContent = 'the owner withdrew this document';
});

$('prev').addEventListener('click', () => viewer.goToPage(Math.max(1, viewer.page - 1)));
$('next').addEventListener('click', () => viewer.goToPage(viewer.page + 1));
$('page').addEventListener('change', (e) => {
  const n = Number(e.target.value);
  if (Number.isSafeInteger(n) && n >= 1) viewer.goToPage(Math.min(n, viewer.pageCount));
  else showPage();
});
$('zoom').addEventListener('change', (e) => {
  const v = e.target.value;
  if (v) viewer.zoom(v.startsWith('fit') ? v : Number(v));
});
$('zoom-in').addEventListener('click', () => {
  const cur = currentZoom();
  viewer.zoom(ZOOM_STEPS.find((s) => s > cur + 1e-6) ?? 8);
});
$('zoom-out').addEventListener('click', () => {
  const cur = currentZoom();
  viewer.zoom([...ZOOM_STEPS].reverse().find((s) => s < cur - 1e-6) ?? 0.25);
});
for (const b of document.querySelectorAll('.doc')) b.addEventListener('click', () => open(b));

enableControls(false);
if (viewer.state === 'ready') {
  // The element was defined and the viewer ready before this script ran (unlikely).
  setStatus('ready');
  enableControls(true);
  showPage();
}
