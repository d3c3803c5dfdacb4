// Loads the viewer (viewer.js and, through it, the wasm module in /viewer/pkg/) and says so
// within seconds when it cannot: a page that spins forever on "Opening…" tells nobody anything.
// The wasm module is built, not committed (www/viewer/build.sh, `cargo xtask demo`, `cargo xtask
// test`): a server started from a checkout without that step serves pages whose module is missing.
const LOAD_TIMEOUT_MS = 60000; // a slow link may need this long for the module

function fail(detail) {
  // The viewer already reached a state of its own (ready, revoked, an error screen): keep it.
  if (document.body.dataset.state) return;
  const $ = (id) => document.getElementById(id);
  $('loading').hidden = true;
  $('error-title').textContent = 'The viewer could not start';
  $('error-text').textContent = 'Its WebAssembly module is missing or failed to load, so the document '
    + 'cannot be opened here. If you run this server, build the viewer with `cargo xtask demo` or '
    + '`www/viewer/build.sh`, then reload this page.';
  const why = document.createElement('p');
  why.className = 'muted';
  why.textContent = `(${detail})`;
  $('error-text').after(why);
  $('error').hidden = false;
  document.body.dataset.state = 'viewer-unavailable';
}

// A module that downloads but never finishes starting (a truncated or stalled wasm download).
const timer = setTimeout(() => {
  if (!document.body.dataset.wasmReadyMs) fail(`not started after ${LOAD_TIMEOUT_MS / 1000} s`);
}, LOAD_TIMEOUT_MS);
try {
  // viewer.js imports the wasm bindings statically: a missing /viewer/pkg/ rejects this import.
  await import('/viewer/viewer.js');
  clearTimeout(timer);
} catch (e) {
  clearTimeout(timer);
  fail(e && e.message ? e.message : String(e));
}
