// End-to-end test of the browser viewer: a real `veilmark serve` on 127.0.0.1:0 with a scratch
// data directory, a real multi-page PDF from a Debian package sealed and linked with the CLI,
// opened in headless Chromium (playwright-core, system Chromium; never `playwright install`).
//
// Checks: the page renders with a watermarked canvas showing the same ink as a native render of
// the page by the same rasteriser; a JPEG screenshot of the tab names the
// session through its invisible forensic watermark; no network response body and no string
// reachable from the page's JavaScript holds a plaintext marker of the PDF; context menu and
// print are blocked; revocation blanks the canvas within 2 s; an expired link shows its screen.
//
// Needs python3 (sqlite3 module) to age a link.
// Run: www/viewer/build.sh && cargo build -p veilmark && (cd tests/e2e && npm ci && node viewer.e2e.mjs)
// Env: VEILMARK_BIN (default target/debug/veilmark), VEILMARK_TEST_PDF, CHROMIUM (default /usr/bin/chromium).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, readmeShot, startVeilmark } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.VEILMARK_BIN || join(root, 'target/debug/veilmark');
// Native render of a page by the viewer's rasteriser: cargo build -p veilmark-viewer-wasm --example render_page
const renderPage = process.env.RENDER_PAGE_BIN || join(root, 'target/debug/examples/render_page');
const pdf = process.env.VEILMARK_TEST_PDF || ['/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf',
  '/usr/share/doc/libtasn1-doc/libtasn1.pdf'].find(existsSync);
// Bytes every leaked copy of the file would contain (header and stream dictionaries).
const MARKERS = ['%PDF-1.', '/FlateDecode', 'endobj'];

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

if (!existsSync(join(root, 'www/viewer/pkg/veilmark_viewer_wasm_bg.wasm'))) {
  throw new Error('wasm not built: run www/viewer/build.sh');
}
if (!existsSync(renderPage)) throw new Error('no render_page: cargo build -p veilmark-viewer-wasm --example render_page');
if (!pdf) throw new Error('no fixture PDF: install shared-mime-info or set VEILMARK_TEST_PDF');
for (const m of MARKERS) if (!readFileSync(pdf).includes(m)) throw new Error(`marker ${m} not in fixture`);

const data = mkdtempSync(join(tmpdir(), 'veilmark-e2e-'));
const cli = (...args) => execFileSync(bin, [...args, '--data', data], { encoding: 'utf8' }).trim();
const { server } = await startVeilmark(bin, data, join(root, 'www'));
let browser;
try {
  const doc = cli('seal', pdf, '--title', 'Shared MIME-info spec');
  const link = JSON.parse(cli('link', doc, '--to', 'alice@supplier.example', '--json'));
  const url = link.url;
  const linkId = link.link.id;

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const bodies = [];
  page.on('response', async (r) => {
    try { bodies.push([r.url(), await r.body()]); } catch { /* redirects, aborted SSE */ }
  });

  const t0 = Date.now();
  await page.goto(url);
  await page.waitForSelector('body[data-state=ready]', { timeout: 60_000 }).catch(() => {});
  const state = await page.evaluate(() => document.body.dataset.state);
  check(state === 'ready', `viewer ready (state ${state}) in ${Date.now() - t0} ms`);
  if (state !== 'ready') console.log(consoleLines.join('\n'));

  const info = await page.evaluate(() => {
    const c = document.getElementById('page-canvas');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let dark = 0, mid = 0;
    for (let i = 0; i < px.length; i += 4) {
      const v = (px[i] + px[i + 1] + px[i + 2]) / 3;
      if (v < 100) dark++; else if (v < 235) mid++;
    }
    const n = px.length / 4;
    return { w: c.width, h: c.height, dark: dark / n, mid: mid / n, pages: document.getElementById('count').textContent,
      ms: document.body.dataset.renderMs };
  });
  console.log(`canvas ${info.w}×${info.h}, ${info.pages} pages, render ${info.ms} ms, dark ${info.dark.toFixed(3)}, mid ${info.mid.toFixed(3)}`);
  check(info.w > 500 && Number(info.pages) > 3, 'multi-page document rendered to the canvas');
  check(info.dark > 0.001, 'page has ink');
  check(info.mid > 0.03, 'visible watermark present (tiled mid-grey text over the page)');
  // Each document kind shows only its own tools: no 3D toolbar (views, section, measure) on a PDF.
  const bars = await page.evaluate(() => ['toolbar', 'cad-toolbar'].map((id) => document.getElementById(id).checkVisibility()));
  check(bars[0] && !bars[1], `only the page toolbar shows on a PDF (page bar ${bars[0]}, 3D bar ${bars[1]})`);
  // The README's picture of the PDF viewer: page, thumbnails, both watermarks.
  await page.waitForFunction(() => document.querySelectorAll('#thumbs canvas').length > 1, null, { timeout: 10_000 }).catch(() => {});
  await readmeShot(page, 'viewer-pdf.png');

  // The same page rendered natively by the same rasteriser (viewer-wasm's render_page example)
  // has the same ink where the canvas has it: the browser shows the page, not something else.
  const canvasPng = join(data, 'canvas-page1.png');
  // The classification banner's strips (top and bottom, `Banner::strip_for`) are painted white
  // in the copy compared: the native render has none, and a page's edges are its margins.
  const dataUrl = await page.evaluate(() => {
    const c = document.getElementById('page-canvas');
    const copy = document.createElement('canvas');
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext('2d');
    ctx.drawImage(c, 0, 0);
    const strip = Math.max(1, Math.min(Math.max(Math.round(Math.min(c.width, c.height) / 28), 12), Math.floor(c.height / 4)));
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, c.width, strip);
    ctx.fillRect(0, c.height - strip, c.width, strip);
    return copy.toDataURL('image/png');
  });
  writeFileSync(canvasPng, Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
  const cmp = JSON.parse(execFileSync(renderPage, [pdf, '1', String(info.w), join(data, 'native-page1.png'),
    '--compare', canvasPng], { encoding: 'utf8' }).trim());
  console.log(`native render vs canvas: ${JSON.stringify(cmp)}`);
  check(Math.abs(cmp.native[0] - cmp.canvas[0]) <= 1 && Math.abs(cmp.native[1] - cmp.canvas[1]) <= 1,
    'native render and canvas have the same size');
  check(cmp.ink_iou > 0.9 && cmp.ink_pixels > 1000, `canvas ink matches the native render (IoU ${cmp.ink_iou})`);

  // The invisible forensic mark: a screenshot of the whole tab, saved as JPEG quality 70 the
  // way a leaker would, names Alice's session when `veilmark identify` reads it with the
  // server's key. (What the user sees, not the canvas buffer: toolbar and thumbnails included.)
  const shot = join(data, 'leaked-screenshot.jpg');
  await page.screenshot({ path: shot, type: 'jpeg', quality: 70 });
  const id = JSON.parse(execFileSync(bin, ['identify', shot, '--data', data, '--json'], { encoding: 'utf8' }).trim());
  console.log(`identify: ${JSON.stringify(id)}`);
  check(id.found === true && String(id.traced_to).includes('alice@supplier.example'),
    'forensic watermark in a JPEG screenshot traces to the recipient');

  // Next page via the keyboard.
  await page.keyboard.press('ArrowRight');
  check(await page.evaluate(() => document.body.dataset.page) === '2', 'ArrowRight shows page 2');

  // Nothing reachable from JS holds plaintext.
  const reachable = await page.evaluate(async () => {
    const parts = [document.documentElement.outerHTML, JSON.stringify({ ...localStorage }),
      JSON.stringify({ ...sessionStorage }), document.cookie,
      JSON.stringify(performance.getEntries().map((e) => e.name))];
    parts.push(JSON.stringify(await caches.keys()));
    if (indexedDB.databases) parts.push(JSON.stringify(await indexedDB.databases()));
    return parts.join('\n');
  });
  for (const m of MARKERS) check(!reachable.includes(m), `no "${m}" in DOM, storage, cookies, caches, resource URLs`);
  check(!/blob:|data:/.test(await page.evaluate(() => JSON.stringify(performance.getEntries().map((e) => e.name)))),
    'no blob: or data: URL loaded');
  const envelopeSeen = bodies.some(([u]) => u.includes('/envelope'));
  check(envelopeSeen, `captured ${bodies.length} response bodies, envelope among them`);
  for (const m of MARKERS) {
    const hit = bodies.find(([u, b]) => b.includes(m) && !u.endsWith('.wasm'));
    check(!hit, `no network response contains "${m}"${hit ? ` (found in ${hit[0]})` : ''}`);
  }

  // Context menu and print.
  const prevented = await page.evaluate(() => {
    const e = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
    document.getElementById('page-canvas').dispatchEvent(e);
    return e.defaultPrevented;
  });
  check(prevented, 'context menu blocked');
  await page.emulateMedia({ media: 'print' });
  const print = await page.evaluate(() => ({
    canvas: getComputedStyle(document.getElementById('main')).display,
    notice: getComputedStyle(document.querySelector('.print-notice')).display,
  }));
  check(print.canvas === 'none' && print.notice === 'block', 'print shows only the notice');
  await page.emulateMedia({ media: 'screen' });

  // Page views reach the owner's audit log (page 1 on open, page 2 after ArrowRight).
  await new Promise((r) => setTimeout(r, 300));
  const audit = JSON.parse(cli('audit', '--json'));
  const views = (Array.isArray(audit) ? audit : audit.entries || []).filter((e) => e.kind === 'page-view');
  check(views.length >= 2, `page views in the audit log: ${views.map((e) => e.detail).join(', ')}`);

  // Revocation from the CLI (another process): blank within 2 s.
  const tr = Date.now();
  cli('revoke', linkId);
  await page.waitForFunction(() => document.body.dataset.state === 'revoked'
    && document.getElementById('page-canvas').width === 0, null, { timeout: 5000 }).catch(() => {});
  const revokedMs = Date.now() - tr;
  check(revokedMs < 2000, `revocation blanked the canvas in ${revokedMs} ms`);
  await readmeShot(page, 'viewer-revoked.png');

  // Need-to-know: a link to pages 2-3 only. The viewer counts and thumbnails two pages (the
  // others are not in what it can decrypt; server/tests/classification.rs checks the bytes).
  const subset = JSON.parse(cli('link', doc, '--to', 'carol@supplier.example', '--pages', '2-3', '--json'));
  const ps = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await ps.goto(subset.url);
  await ps.waitForSelector('body[data-state=ready]', { timeout: 60_000 }).catch(() => {});
  await ps.waitForFunction(() => document.querySelectorAll('#thumbs canvas').length >= 2, null, { timeout: 10_000 }).catch(() => {});
  const sub = await ps.evaluate(() => [document.body.dataset.state, document.getElementById('count').textContent,
    document.querySelectorAll('#thumbs canvas').length, document.getElementById('title').textContent]);
  check(sub[0] === 'ready' && sub[1] === '2' && sub[2] === 2 && sub[3].endsWith('pages 2-3'),
    `a link to pages 2-3 shows 2 pages and 2 thumbnails (${JSON.stringify(sub)})`);
  await ps.close();

  // Terms before viewing: shown as text (markup in them stays text), accepted once, audited.
  const termsFile = join(data, 'nda.txt');
  writeFileSync(termsFile, 'MUTUAL NON-DISCLOSURE\n<img src=x onerror="window.__pwned=1"> Keep these drawings secret.');
  cli('terms', 'set', termsFile);
  const termed = JSON.parse(cli('link', doc, '--to', 'dana@supplier.example', '--json'));
  const pt = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await pt.goto(termed.url);
  await pt.waitForSelector('#terms-form:not([hidden])', { timeout: 30_000 }).catch(() => {});
  const shown = await pt.evaluate(() => [document.getElementById('terms-text').textContent,
    document.querySelectorAll('#terms-text img').length, document.body.dataset.state || '']);
  check(shown[0].startsWith('MUTUAL NON-DISCLOSURE') && shown[0].includes('<img') && shown[1] === 0,
    `the terms are shown as text before the first view (${JSON.stringify(shown[0].slice(0, 40))})`);
  await pt.click('#terms-accept');
  await pt.waitForSelector('body[data-state=ready]', { timeout: 60_000 }).catch(() => {});
  const afterTerms = await pt.evaluate(() => [document.body.dataset.state, window.__pwned]);
  check(afterTerms[0] === 'ready' && afterTerms[1] === undefined, `accepting opens the document (${afterTerms[0]})`);
  await pt.close();
  const accepted = JSON.parse(cli('audit', '--json')).filter((e) => e.kind === 'terms-accepted');
  check(accepted.length === 1 && /^terms sha256 [0-9a-f]{64}$/.test(accepted[0].detail) && accepted[0].session_id,
    `the acceptance is audited with the text's SHA-256 and the session (${accepted.length && accepted[0].detail})`);
  cli('terms', 'clear');

  // A viewer page whose wasm module is missing (a server started before `www/viewer/build.sh`)
  // says so within seconds instead of spinning on "Opening…".
  const p3 = await browser.newPage();
  await p3.route('**/viewer/pkg/**', (r) => r.fulfill({ status: 404, body: 'not found' }));
  const t3 = Date.now();
  await p3.goto(url);
  await p3.waitForSelector('body[data-state]', { timeout: 10_000 }).catch(() => {});
  const s3 = await p3.evaluate(() => [document.body.dataset.state, document.getElementById('error-text').textContent]);
  check(s3[0] === 'viewer-unavailable' && s3[1].includes('build') && Date.now() - t3 < 10_000,
    `a missing viewer module is reported in ${Date.now() - t3} ms: "${s3[1].slice(0, 60)}…" (${s3[0]})`);
  await p3.close();

  // An expired link shows its screen.
  // Links live at least a minute, so age this one in the database (as server/tests do).
  const expired = JSON.parse(cli('link', doc, '--to', 'bob@supplier.example', '--json'));
  execFileSync('python3', ['-c', 'import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); '
    + 'c.execute("UPDATE links SET expires_at=? WHERE id=?", (int(time.time())-1, sys.argv[2])); c.commit()',
  join(data, 'veilmark.db'), expired.link.id]);
  const p2 = await browser.newPage();
  await p2.goto(expired.url);
  await p2.waitForSelector('body[data-state]', { timeout: 20_000 }).catch(() => {});
  const s2 = await p2.evaluate(() => [document.body.dataset.state, document.getElementById('error-title').textContent]);
  check(s2[0] === 'link-expired', `expired link shows "${s2[1]}" (${s2[0]})`);
} finally {
  if (browser) await browser.close();
  server.kill('SIGINT');
  rmSync(data, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
