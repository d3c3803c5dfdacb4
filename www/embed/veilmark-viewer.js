// <veilmark-viewer>: embeds a Veilmark protected link in a partner portal (docs/embedding.md).
//
//   <script type="module" src="https://veilmark.example/embed/veilmark-viewer.js"></script>
//   <veilmark-viewer src="https://veilmark.example/v/TOKEN" label="Bracket rev C"></veilmark-viewer>
//
// Attributes: src (the protected link), label (the frame's accessible name), controls ("none"
// hides the viewer's own toolbar and thumbnails, for portals that bring their own buttons).
//
// The element is a thin remote control. It frames the link's viewer page from the Veilmark
// origin, so the decrypted document lives in another origin's wasm memory that the portal's
// scripts cannot read (the browser's same-origin policy is the security boundary), and it turns
// the viewer's postMessage protocol into DOM events and methods:
//
//   methods     goToPage(n), zoom(z)            z: number (1 = 100 %, 0.25–8), 'fit-width', 'fit-page'
//   properties  src, label, controls, page, pageCount, zoomLevel, scale, state ('idle' | 'loading' | 'ready' |
//               'passcode' | 'terms' | 'error' | 'revoked'), viewerOrigin
//   events      ready, page-changed, zoom-changed, passcode-required, terms-required, error,
//               revoked
//               (CustomEvents; details: {page, pageCount}, {zoom, scale}, {kind})
//
// Works as a module or a classic script; defines nothing global besides the element.
(() => {
  'use strict';

  const PROTOCOL_VERSION = 1;
  const ZOOM_MODES = ['fit-width', 'fit-page'];
  const ZOOM_MIN = 0.25;
  const ZOOM_MAX = 8;
  // After the frame's load event, how long to keep saying hello before concluding that the
  // browser refused to show the viewer (origin not configured with --embed-origin, or the
  // portal's own CSP lacks frame-src).
  const HELLO_EVERY_MS = 200;
  const HELLO_GIVE_UP_MS = 3000;
  const STYLE = `
    :host { display: block; position: relative; height: 70vh; min-height: 20rem;
            border: 1px solid #c9ced8; background: #e8eaef; contain: strict; }
    :host([hidden]) { display: none; }
    iframe { display: block; width: 100%; height: 100%; border: 0; }`;

  /** Turns `src` into an absolute viewer URL, or null when it is not a `/v/{token}` link. */
  function viewerUrl(src) {
    let url;
    try { url = new URL(src, document.baseURI); } catch { return null; }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (!/^\/v\/[A-Za-z0-9_-]+\/?$/.test(url.pathname)) return null;
    return url;
  }

  function isCount(x) { return Number.isSafeInteger(x) && x >= 1; }

  class VeilmarkViewer extends HTMLElement {
    static get observedAttributes() { return ['src', 'label', 'controls']; }

    #frame;
    #origin = null;
    #state = 'idle';
    #page = 0;
    #pageCount = 0;
    #zoom = null;
    #scale = null;
    #pending = new Map(); // command type → message, sent once the viewer is ready
    #alive = false;
    #helloTimer = null;
    #giveUpTimer = null;
    #onMessage = (e) => this.#receive(e);
    #onLoad = () => this.#handshake();

    constructor() {
      super();
      const root = this.attachShadow({ mode: 'open' });
      // A constructed style sheet, so a portal whose CSP forbids inline styles needs no exception.
      try {
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLE);
        root.adoptedStyleSheets = [sheet];
      } catch {
        const style = document.createElement('style');
        style.textContent = STYLE;
        root.append(style);
      }
      this.#frame = document.createElement('iframe');
      // Cross-origin frame: scripts and forms (the passcode box) run in the Veilmark origin;
      // no popups, no top-level navigation, no downloads, no modal dialogs.
      this.#frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms');
      this.#frame.setAttribute('referrerpolicy', 'no-referrer');
      this.#frame.setAttribute('part', 'frame');
      this.#frame.title = 'Protected document';
      this.#frame.addEventListener('load', this.#onLoad);
      root.append(this.#frame);
    }

    connectedCallback() {
      window.addEventListener('message', this.#onMessage);
      this.#load();
    }

    disconnectedCallback() {
      window.removeEventListener('message', this.#onMessage);
      this.#stopHello();
      // Leaving the page: unload the viewer, which wipes its key and pixels on pagehide.
      this.#frame.removeAttribute('src');
      this.#setState('idle');
    }

    attributeChangedCallback(name, old, value) {
      if (name === 'label') this.#frame.title = value || 'Protected document';
      else if (name === 'src' && old !== value && this.isConnected) this.#load();
      else if (name === 'controls' && old !== value && this.#origin && this.isConnected) {
        // Only the fragment changes: the viewer switches in place, no reload, no new view.
        const url = viewerUrl(this.src);
        if (url) this.#frame.src = this.#withControls(url).href;
      }
    }

    /** The protected link (`https://veilmark.example/v/TOKEN`). */
    get src() { return this.getAttribute('src') || ''; }
    set src(v) { this.setAttribute('src', v); }
    /** Accessible name of the frame. */
    get label() { return this.getAttribute('label') || ''; }
    set label(v) { this.setAttribute('label', v); }
    /** 'none' hides the viewer's own toolbar and thumbnails; anything else shows them. */
    get controls() { return this.getAttribute('controls') || 'full'; }
    set controls(v) { this.setAttribute('controls', v); }
    /** 1-based page shown, 0 before ready. */
    get page() { return this.#page; }
    /** Number of pages, 0 before ready. */
    get pageCount() { return this.#pageCount; }
    /** The zoom the viewer reported last: a number (1 = 100 %), 'fit-width' or 'fit-page'. */
    get zoomLevel() { return this.#zoom; }
    /** The scale the page is drawn at (1 = 100 %), also when zoomLevel is a fit mode; or null. */
    get scale() { return this.#scale; }
    /** 'idle', 'loading', 'ready', 'passcode', 'terms', 'error' or 'revoked'. */
    get state() { return this.#state; }
    /** The Veilmark origin messages are exchanged with. */
    get viewerOrigin() { return this.#origin; }

    /** Shows page `n` (1-based; clamped to the document). Queued until the viewer is ready. */
    goToPage(n) {
      if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('goToPage needs an integer page ≥ 1');
      this.#command('go-to-page', { page: n });
    }

    /** Sets the zoom: a number from 0.25 to 8 (1 = 100 %), 'fit-width' or 'fit-page'. */
    zoom(z) {
      const ok = ZOOM_MODES.includes(z) || (typeof z === 'number' && z >= ZOOM_MIN && z <= ZOOM_MAX);
      if (!ok) throw new RangeError(`zoom needs ${ZOOM_MODES.join(', ')} or a number from ${ZOOM_MIN} to ${ZOOM_MAX}`);
      this.#command('zoom', { zoom: z });
    }

    #command(type, fields) {
      const message = { ...fields, v: PROTOCOL_VERSION, type: `veilmark:${type}` };
      if (this.#state === 'ready') this.#post(message);
      else this.#pending.set(type, message);
    }

    #post(message) {
      if (this.#origin && this.#frame.contentWindow) this.#frame.contentWindow.postMessage(message, this.#origin);
    }

    #load() {
      this.#stopHello();
      this.#alive = false;
      this.#page = 0;
      this.#pageCount = 0;
      this.#zoom = null;
      this.#scale = null;
      this.#pending.clear();
      const url = viewerUrl(this.src);
      if (!url) {
        this.#origin = null;
        this.#frame.removeAttribute('src');
        if (this.src) this.#fail('bad-src');
        else this.#setState('idle');
        return;
      }
      this.#origin = url.origin;
      this.#setState('loading');
      this.#frame.src = this.#withControls(url).href;
    }

    // Always a fragment, so that switching is a same-document navigation (no reload).
    #withControls(url) {
      url.hash = this.controls === 'none' ? 'controls=none' : 'controls=full';
      return url;
    }

    // The viewer answers hello at once; browsers without location.ancestorOrigins (Firefox)
    // learn our origin from it. No answer means the browser did not let the viewer load.
    #handshake() {
      if (!this.#origin || this.#state === 'idle') return;
      // The frame's initial about:blank (same-origin, hence readable) is not the viewer.
      try {
        if (this.#frame.contentWindow.location.href === 'about:blank') return;
      } catch {
        // Cross-origin: the viewer, or the browser's error page in its place.
      }
      this.#stopHello();
      const hello = () => this.#post({ v: PROTOCOL_VERSION, type: 'veilmark:hello' });
      hello();
      this.#helloTimer = setInterval(hello, HELLO_EVERY_MS);
      this.#giveUpTimer = setTimeout(() => {
        this.#stopHello();
        if (!this.#alive) this.#fail('frame-blocked');
      }, HELLO_GIVE_UP_MS);
    }

    #stopHello() {
      clearInterval(this.#helloTimer);
      clearTimeout(this.#giveUpTimer);
      this.#helloTimer = null;
      this.#giveUpTimer = null;
    }

    #receive(e) {
      // Only our own frame, only from the origin we pointed it at, only protocol messages.
      if (e.source !== this.#frame.contentWindow || e.origin !== this.#origin) return;
      const m = e.data;
      if (m === null || typeof m !== 'object' || m.v !== PROTOCOL_VERSION || typeof m.type !== 'string') return;
      if (!this.#alive) {
        this.#alive = true;
        this.#stopHello();
      }
      switch (m.type) {
        case 'veilmark:ready':
          if (!isCount(m.pageCount) || !isCount(m.page)) return;
          this.#pageCount = m.pageCount;
          this.#page = m.page;
          if (ZOOM_MODES.includes(m.zoom) || typeof m.zoom === 'number') this.#zoom = m.zoom;
          this.#scale = typeof m.scale === 'number' ? m.scale : null;
          this.#setState('ready');
          this.#emit('ready', { page: this.#page, pageCount: this.#pageCount });
          for (const msg of this.#pending.values()) this.#post(msg);
          this.#pending.clear();
          break;
        case 'veilmark:page-changed':
          if (!isCount(m.page)) return;
          this.#page = m.page;
          if (isCount(m.pageCount)) this.#pageCount = m.pageCount;
          if (typeof m.scale === 'number') this.#scale = m.scale; // fit modes: pages differ in size
          this.#emit('page-changed', { page: this.#page, pageCount: this.#pageCount });
          break;
        case 'veilmark:zoom-changed':
          if (!ZOOM_MODES.includes(m.zoom) && typeof m.zoom !== 'number') return;
          this.#zoom = m.zoom;
          this.#scale = typeof m.scale === 'number' ? m.scale : null;
          this.#emit('zoom-changed', { zoom: m.zoom, scale: this.#scale });
          break;
        case 'veilmark:passcode-required':
          this.#setState('passcode');
          this.#emit('passcode-required', {});
          break;
        case 'veilmark:terms-required':
          // The terms are shown and accepted inside the frame; the portal only learns that.
          this.#setState('terms');
          this.#emit('terms-required', {});
          break;
        case 'veilmark:error':
          this.#fail(typeof m.kind === 'string' ? m.kind.slice(0, 40) : 'server');
          break;
        case 'veilmark:revoked':
          this.#pending.clear();
          this.#setState('revoked');
          this.#emit('revoked', {});
          break;
        default:
          break; // veilmark:hello, or a newer message type this script does not know
      }
    }

    #fail(kind) {
      this.#pending.clear();
      this.#setState('error');
      this.#emit('error', { kind });
    }

    #setState(s) {
      this.#state = s;
      this.setAttribute('state', s);
    }

    #emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    }
  }

  if (!customElements.get('veilmark-viewer')) customElements.define('veilmark-viewer', VeilmarkViewer);
})();
