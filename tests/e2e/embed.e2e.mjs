// End-to-end test of embedding (docs/embedding.md): the example partner portal, served from its
// own origin by portal-server.mjs, embeds a protected link with <veilmark-viewer> from a real
// `veilmark serve --embed-origin <portal>`; headless Chromium (playwright-core, system Chromium).
//
// Checks: the framed viewer becomes ready and the element reports the page count; goToPage and
// zoom reach the viewer and come back as page-changed / zoom-changed; the portal's JavaScript
// cannot reach the frame's document, and nothing it can reach holds the document's plaintext or
// title; malformed messages, and messages from another origin's frame, are ignored both ways; a
// portal origin that is not configured gets no viewer (and no licence), and the element reports
// `frame-blocked`; revoking the link from the CLI fires `revoked`; switching documents works.
//
// Run: www/viewer/build.sh && cargo build -p veilmark && (cd tests/e2e && npm ci && node embed.e2e.mjs)
// Env: VEILMARK_BIN (default target/debug/veilmark), VEILMARK_TEST_PDF, CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, startVeilmark } from './harness.mjs';
import { startPortals } from './portal-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.VEILMARK_BIN || join(root, 'target/debug/veilmark');
const pdf = process.env.VEILMARK_TEST_PDF || ['/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf',
  '/usr/share/doc/libtasn1-doc/libtasn1.pdf'].find(existsSync);
const MARKERS = ['%PDF-1.', '/FlateDecode', 'endobj'];
const SEALED_TITLE = 'Confidential spec 7Q2X';

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

if (!existsSync(join(root, 'www/viewer/pkg/veilmark_viewer_wasm_bg.wasm'))) {
  throw new Error('wasm not built: run www/viewer/build.sh');
}
if (!pdf) throw new Error('no fixture PDF: install shared-mime-info or set VEILMARK_TEST_PDF');
for (const m of MARKERS) if (!readFileSync(pdf).includes(m)) throw new Error(`marker ${m} not in fixture`);

const started = Date.now();
const data = mkdtempSync(join(tmpdir(), 'veilmark-embed-e2e-'));
const cli = (...args) => execFileSync(bin, [...args, '--data', data], { encoding: 'utf8' }).trim();
// Two portal origins: A is configured with --embed-origin, B is not.
const cfg = { veilmark: '', links: [], extraFrameSrc: [] };
const portals = await startPortals([0, 0], () => cfg);
const [allowedPortal, otherPortal] = portals.origins;
cfg.extraFrameSrc = [otherPortal];
const { server, base } = await startVeilmark(bin, data, join(root, 'www'),
  { extraArgs: ['--embed-origin', allowedPortal] });
cfg.veilmark = base;
let browser;
try {
  const doc = cli('seal', pdf, '--title', SEALED_TITLE);
  const links = [1, 2, 3].map(() => JSON.parse(cli('link', doc, '--to', 'alice@supplier.example', '--json')));
  cfg.links = links.map((l) => l.url);

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => consoleLines.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) consoleLines.push(`HTTP ${r.status()}: ${r.url()}`); });

  // Event-log helpers: portal.js appends one <li data-type data-detail> per element event.
  const count = (p, type) => p.evaluate((t) => document.querySelectorAll(`#event-log li[data-type="${t}"]`).length, type);
  async function nextEvent(p, type, before, timeout = 10_000) {
    try {
      await p.waitForFunction(([t, n]) => document.querySelectorAll(`#event-log li[data-type="${t}"]`).length > n,
        [type, before], { timeout });
    } catch {
      return null;
    }
    return p.evaluate((t) => JSON.parse([...document.querySelectorAll(`#event-log li[data-type="${t}"]`)].pop().dataset.detail), type);
  }
  const viewerFrame = () => page.frames().find((f) => f.url().split('#')[0] === cfg.links[0]);
  const inFrame = (fn) => viewerFrame().evaluate(fn);

  // 1. Ready.
  const t0 = Date.now();
  await page.goto(`${allowedPortal}/`);
  const ready = await nextEvent(page, 'ready', 0, 30_000);
  check(ready && ready.pageCount > 3 && ready.page === 1,
    `element fired ready ${JSON.stringify(ready)} in ${Date.now() - t0} ms`);
  if (!ready) console.log(consoleLines.join('\n'));
  const props = await page.evaluate(() => {
    const v = document.getElementById('viewer');
    return { state: v.state, attr: v.getAttribute('state'), page: v.page, pageCount: v.pageCount, origin: v.viewerOrigin };
  });
  check(props.state === 'ready' && props.attr === 'ready' && props.page === 1 && props.pageCount === ready?.pageCount
    && props.origin === cfg.veilmark, `element properties ${JSON.stringify(props)}`);
  check(await inFrame(() => document.body.dataset.state === 'ready' && document.body.dataset.embedded === 'true'),
    'viewer inside the frame rendered the document');
  const toolbarShown = () => inFrame(() => getComputedStyle(document.getElementById('toolbar')).display !== 'none'
    && getComputedStyle(document.getElementById('thumbs')).display !== 'none');
  check(!await toolbarShown(), 'controls="none": the viewer\'s own toolbar and thumbnails are hidden');
  await page.evaluate(() => { document.getElementById('viewer').controls = 'full'; });
  await viewerFrame().waitForFunction(() => document.body.dataset.controls === undefined, null, { timeout: 3000 }).catch(() => {});
  check(await toolbarShown() && await count(page, 'ready') === 1, 'controls="full" shows them in place (no reload)');
  await page.evaluate(() => { document.getElementById('viewer').controls = 'none'; });

  // 2. goToPage.
  let n = await count(page, 'page-changed');
  await page.evaluate(() => document.getElementById('viewer').goToPage(2));
  const changed = await nextEvent(page, 'page-changed', n);
  check(changed?.page === 2 && await inFrame(() => document.body.dataset.page) === '2',
    `goToPage(2) → page-changed ${JSON.stringify(changed)}, frame shows page 2`);
  n = await count(page, 'page-changed');
  await page.click('#next');
  const next = await nextEvent(page, 'page-changed', n);
  check(next?.page === 3 && await page.inputValue('#page') === '3', 'portal toolbar "next" → page 3');

  // 3. Zoom.
  const width = () => inFrame(() => parseFloat(document.getElementById('page-canvas').style.width));
  const w0 = await width();
  const s0 = await page.evaluate(() => document.getElementById('viewer').scale);
  n = await count(page, 'zoom-changed');
  await page.evaluate(() => document.getElementById('viewer').zoom(2));
  const z2 = await nextEvent(page, 'zoom-changed', n);
  const w2 = await width();
  check(z2?.zoom === 2 && z2.scale === 2 && await page.evaluate(() => document.getElementById('viewer').zoomLevel) === 2,
    `zoom(2) → zoom-changed ${JSON.stringify(z2)}`);
  check(Math.abs(w2 / 2 - w0 / s0) < 2 && w2 !== w0, `canvas redrawn at 200 % (${w0} CSS px at ${s0} → ${w2} at 2)`);
  n = await count(page, 'zoom-changed');
  await page.selectOption('#zoom', 'fit-page');
  const zf = await nextEvent(page, 'zoom-changed', n);
  check(zf?.zoom === 'fit-page' && zf.scale > 0 && zf.scale < 2, `portal zoom menu → fit-page (scale ${zf?.scale})`);
  const apiErrors = await page.evaluate(() => {
    const v = document.getElementById('viewer');
    const bad = [() => v.goToPage(0), () => v.goToPage(1.5), () => v.goToPage('2'), () => v.zoom(100), () => v.zoom('max')];
    return bad.map((f) => { try { f(); return 'accepted'; } catch (e) { return e.name; } });
  });
  check(apiErrors.every((e) => e === 'RangeError'), `element API refuses bad arguments (${apiErrors.join(', ')})`);

  // 4. The portal's JavaScript cannot reach into the frame.
  const reach = await page.evaluate(() => {
    const f = document.getElementById('viewer').shadowRoot.querySelector('iframe');
    const attempt = (fn) => { try { return fn() ?? 'null'; } catch (e) { return e.name; } };
    return {
      contentDocument: f.contentDocument === null,
      document: attempt(() => f.contentWindow.document && 'readable'),
      location: attempt(() => f.contentWindow.location.href),
      globals: attempt(() => Object.keys(f.contentWindow.wasm ?? {}).length),
      sandbox: f.getAttribute('sandbox'),
      text: [document.documentElement.outerHTML, f.outerHTML,
        JSON.stringify(performance.getEntries().map((e) => e.name)), JSON.stringify({ ...localStorage })].join('\n'),
    };
  });
  check(reach.contentDocument && reach.document === 'SecurityError' && reach.location === 'SecurityError'
    && reach.globals === 'SecurityError', `frame document unreachable from the portal (${reach.document}, ${reach.location})`);
  check(!reach.sandbox.includes('allow-popups') && !reach.sandbox.includes('allow-top-navigation')
    && !reach.sandbox.includes('allow-downloads'), `frame sandboxed: "${reach.sandbox}"`);
  for (const m of [...MARKERS, SEALED_TITLE]) check(!reach.text.includes(m), `portal cannot see "${m}"`);

  // 5. Messages from the wrong origin or of the wrong shape are ignored.
  // The element's frame sits in a shadow root, so other frames cannot even address it
  // (window.frames does not list it); a plain <iframe> (the raw variant) can be, so the test
  // adds one, speaking the raw protocol, next to a frame from an unconfigured origin.
  const rawReady = page.evaluate(({ src, origin }) => new Promise((ok) => {
    const f = document.createElement('iframe');
    f.id = 'raw';
    f.src = src;
    addEventListener('message', (e) => {
      if (e.source === f.contentWindow && e.origin === origin && e.data?.type === 'veilmark:ready') ok(e.data);
    });
    f.onload = () => f.contentWindow.postMessage({ v: 1, type: 'veilmark:hello' }, origin);
    document.body.append(f);
  }), { src: cfg.links[2], origin: cfg.veilmark });
  const rawMessage = await Promise.race([rawReady, new Promise((r) => setTimeout(() => r(null), 30_000))]);
  check(rawMessage?.v === 1 && rawMessage.pageCount === ready.pageCount && rawMessage.page === 1
    && Object.keys(rawMessage).sort().join() === 'page,pageCount,scale,type,v,zoom',
  `raw <iframe>: veilmark:ready ${JSON.stringify(rawMessage)}`);
  await page.evaluate((src) => new Promise((ok) => {
    const f = document.createElement('iframe');
    f.src = src;
    f.id = 'stranger';
    f.onload = ok;
    document.body.append(f);
  }), `${otherPortal}/blank.html`);
  const stranger = page.frames().find((f) => f.url().startsWith(otherPortal));
  const rawFrame = page.frames().find((f) => f.url() === cfg.links[2]);
  const before = {
    page: await inFrame(() => document.body.dataset.page),
    raw: await rawFrame.evaluate(() => document.body.dataset.page),
    events: await page.evaluate(() => document.querySelectorAll('#event-log li').length),
  };
  const frameCount = await stranger.evaluate(() => {
    // Another origin's frame on the portal page (an ad, a widget) tries to drive the viewers and
    // to forge viewer events to the portal.
    for (let i = 0; i < parent.length; i++) {
      parent[i].postMessage({ v: 1, type: 'veilmark:hello' }, '*');
      parent[i].postMessage({ v: 1, type: 'veilmark:go-to-page', page: 5 }, '*');
      parent[i].postMessage({ v: 1, type: 'veilmark:zoom', zoom: 4 }, '*');
    }
    parent.postMessage({ v: 1, type: 'veilmark:revoked' }, '*');
    parent.postMessage({ v: 1, type: 'veilmark:page-changed', page: 9, pageCount: 9 }, '*');
    parent.postMessage({ v: 1, type: 'veilmark:error', kind: 'revoked' }, '*');
    return parent.length;
  });
  // The portal itself (an allowed origin) sends malformed commands through the raw protocol.
  await page.evaluate((origin) => {
    const w = document.getElementById('viewer').shadowRoot.querySelector('iframe').contentWindow;
    for (const m of [{ v: 1, type: 'veilmark:go-to-page', page: '5' }, { v: 1, type: 'veilmark:go-to-page', page: 0 },
      { v: 1, type: 'veilmark:go-to-page', page: 2.5 }, { v: 2, type: 'veilmark:go-to-page', page: 5 },
      { type: 'veilmark:go-to-page', page: 5 }, { v: 1, type: 'veilmark:zoom', zoom: 100 },
      { v: 1, type: 'veilmark:zoom', zoom: 'fit-everything' }, { v: 1, type: 'veilmark:zoom', zoom: NaN },
      [1, 'veilmark:go-to-page', 5], null, 'veilmark:go-to-page']) w.postMessage(m, origin);
  }, cfg.veilmark);
  await page.waitForTimeout(600);
  const after = {
    page: await inFrame(() => document.body.dataset.page),
    raw: await rawFrame.evaluate(() => document.body.dataset.page),
    events: await page.evaluate(() => document.querySelectorAll('#event-log li').length),
  };
  const ignored = await page.evaluate(() => document.getElementById('viewer').state);
  check(frameCount === 2 && after.raw === before.raw && await rawFrame.evaluate(() => document.getElementById('zoom').value) === 'fit-width',
    `raw frame ignores commands from another origin's frame (page ${before.raw} → ${after.raw})`);
  check(after.page === before.page && after.events === before.events && ignored === 'ready',
    `element ignores forged events and the viewer malformed commands (page ${before.page} → ${after.page}, events ${before.events} → ${after.events}, state ${ignored})`);
  await page.evaluate(() => { document.getElementById('raw').remove(); document.getElementById('stranger').remove(); });
  n = await count(page, 'page-changed');
  await page.evaluate((origin) => document.getElementById('viewer').shadowRoot.querySelector('iframe').contentWindow
    .postMessage({ v: 1, type: 'veilmark:go-to-page', page: 1 }, origin), cfg.veilmark);
  const raw = await nextEvent(page, 'page-changed', n);
  check(raw?.page === 1, 'a well-formed raw postMessage from the portal is obeyed (page 1)');

  // 6. A portal origin that is not configured cannot frame the viewer.
  const page2 = await browser.newPage();
  const requests2 = [];
  const console2 = [];
  page2.on('request', (r) => requests2.push(r.url()));
  page2.on('console', (m) => console2.push(m.text()));
  const tb = Date.now();
  await page2.goto(`${otherPortal}/`);
  const blocked = await nextEvent(page2, 'error', 0, 15_000);
  check(blocked?.kind === 'frame-blocked', `unconfigured portal: element fired error ${JSON.stringify(blocked)} after ${Date.now() - tb} ms`);
  const leaked = requests2.filter((u) => u.startsWith(cfg.veilmark))
    .map((u) => new URL(u).pathname).filter((p) => p !== '/embed/veilmark-viewer.js' && !p.startsWith('/v/'));
  check(leaked.length === 0, `unconfigured portal: the framed page ran nothing (no script, wasm or licence request)${leaked.length ? `: ${leaked.join(', ')}` : ''}`);
  check(console2.some((l) => l.includes('frame-ancestors')), 'Chromium reports the frame-ancestors refusal');
  await page2.close();

  // 7. Revocation from the CLI (another process) reaches the portal.
  n = await count(page, 'revoked');
  const tr = Date.now();
  cli('revoke', links[0].link.id);
  const revoked = await nextEvent(page, 'revoked', n, 6000);
  const revokedMs = Date.now() - tr;
  check(revoked !== null && await page.evaluate(() => document.getElementById('viewer').state) === 'revoked',
    `element fired revoked ${revokedMs} ms after veilmark revoke`);
  check(await inFrame(() => document.getElementById('page-canvas').width) === 0, 'viewer wiped its canvas');

  // 8. Another document from the list (src change) opens in the same element.
  n = await count(page, 'ready');
  await page.click('#docs li:nth-child(2) button');
  const ready2 = await nextEvent(page, 'ready', n, 30_000);
  check(ready2?.page === 1 && await page.evaluate(() => document.getElementById('viewer').src) === cfg.links[1],
    'choosing another document opens its link in the element');

  if (failures) console.log(consoleLines.join('\n'));
} finally {
  if (browser) await browser.close();
  server.kill('SIGINT');
  await portals.close();
  rmSync(data, { recursive: true, force: true });
}
console.log(`${failures ? `${failures} check(s) failed` : 'all checks passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures ? 1 : 0);
