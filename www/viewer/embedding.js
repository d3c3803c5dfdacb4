// The viewer's side of the embedding protocol (docs/embedding.md#protocol): when a partner portal
// frames this page (with <veilmark-viewer> or a plain <iframe>), tell the portal what it may know
// — that the viewer is ready, how many pages there are, which page and zoom are shown, and which
// error ended the session — and accept page and zoom commands from it. Never document content:
// no title, text, pixels, recipient or session code crosses the frame boundary.
//
// Who may talk to us: the origins the server lists in <meta name="veilmark-embed-origins">
// (`veilmark serve --embed-origin`, the same list the browser enforces through the CSP's
// frame-ancestors). A message counts only if it comes from our direct parent window *and* from
// one of those origins; everything we post names that origin as targetOrigin, never '*'.

export const PROTOCOL_VERSION = 1;

/** Zoom keywords the viewer understands besides a number (1 = 100 %). */
export const ZOOM_MODES = ['fit-width', 'fit-page'];
export const ZOOM_MIN = 0.25;
export const ZOOM_MAX = 8;
const QUEUE_MAX = 32;

const allowed = (document.querySelector('meta[name="veilmark-embed-origins"]')?.content || '')
  .split(/\s+/).filter(Boolean);

/** True when this page is shown inside another page's frame. */
export const framed = window.parent !== window;

/**
 * Whether the frame around us is one we accept. Browsers already refuse to render this page in
 * a frame the CSP does not allow; this is the second lock, for browsers that expose the
 * ancestors (Chromium, Safari): every ancestor must be an allowed origin.
 */
export function framingRefused() {
  if (!framed) return false;
  if (allowed.length === 0) return true;
  const ancestors = location.ancestorOrigins;
  return Boolean(ancestors && [...ancestors].some((o) => !allowed.includes(o)));
}

// The embedder's origin: known at once where the browser exposes ancestorOrigins, otherwise
// learned from the embedder's first `veilmark:hello` (checked against `allowed`).
let parentOrigin = framed && !framingRefused() && location.ancestorOrigins?.length
  ? location.ancestorOrigins[0] : null;
const queue = [];
const handlers = {};

/** Posts `{v, type: 'veilmark:' + type, ...fields}` to the embedder (queued until it is known). */
export function notify(type, fields = {}) {
  if (!framed || framingRefused()) return;
  const message = { ...fields, v: PROTOCOL_VERSION, type: `veilmark:${type}` };
  if (parentOrigin) window.parent.postMessage(message, parentOrigin);
  else if (queue.length < QUEUE_MAX) queue.push(message);
}

/**
 * Registers the handlers for commands from the embedder: `goToPage(page)` with a 1-based
 * integer page, `zoom(z)` with a number in [ZOOM_MIN, ZOOM_MAX] or one of ZOOM_MODES. Fields
 * are validated here; anything malformed is dropped (and logged to this frame's console).
 */
export function onCommand(goToPage, zoom) {
  handlers.goToPage = goToPage;
  handlers.zoom = zoom;
}

function valid(data) {
  return data !== null && typeof data === 'object' && !Array.isArray(data)
    && data.v === PROTOCOL_VERSION && typeof data.type === 'string';
}

function receive(event) {
  if (!framed || event.source !== window.parent || !allowed.includes(event.origin)) return;
  if (parentOrigin !== null && event.origin !== parentOrigin) return;
  if (framingRefused()) return;
  const data = event.data;
  if (!valid(data)) return;
  switch (data.type) {
    case 'veilmark:hello':
      if (parentOrigin === null) parentOrigin = event.origin;
      window.parent.postMessage({ v: PROTOCOL_VERSION, type: 'veilmark:hello' }, parentOrigin);
      for (const m of queue.splice(0)) window.parent.postMessage(m, parentOrigin);
      break;
    case 'veilmark:go-to-page':
      if (Number.isSafeInteger(data.page) && data.page >= 1) handlers.goToPage?.(data.page);
      else console.warn('veilmark: go-to-page needs an integer page ≥ 1');
      break;
    case 'veilmark:zoom':
      if (ZOOM_MODES.includes(data.zoom)
        || (typeof data.zoom === 'number' && data.zoom >= ZOOM_MIN && data.zoom <= ZOOM_MAX)) {
        handlers.zoom?.(data.zoom);
      } else console.warn(`veilmark: zoom needs ${ZOOM_MODES.join(', ')} or a number in [${ZOOM_MIN}, ${ZOOM_MAX}]`);
      break;
    default:
      break;
  }
}

window.addEventListener('message', receive);
