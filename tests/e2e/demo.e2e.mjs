// The demo as a newcomer uses it: `veilmark demo --serve` (the debug build, without the crawl,
// which `cargo xtask demo` adds), its printed list of what to open read from its output, then in
// headless Chromium: the supplier's PDF link opens under a visible watermark naming the
// recipient, the owner logs in to the console with the printed login and revokes that link on
// its Links page, and the open viewer goes blank.
//
// Run: www/viewer/build.sh && cargo build -p veilmark && (cd tests/e2e && npm ci && node demo.e2e.mjs)
// Env: VEILMARK_BIN (default target/debug/veilmark), CHROMIUM.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './harness.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.VEILMARK_BIN || join(root, 'target/debug/veilmark');
if (!existsSync(join(root, 'www/viewer/pkg/veilmark_viewer_wasm_bg.wasm'))) {
  throw new Error('wasm not built: run www/viewer/build.sh');
}

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

const dir = mkdtempSync(join(tmpdir(), 'veilmark-demo-e2e-'));
const demo = spawn(bin, ['demo', '--dir', dir, '--serve'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
demo.stdout.on('data', (d) => { out += d; });
demo.stderr.on('data', (d) => { err += d; });
let browser;
try {
  // The demo prints "Open, in order:" once it serves; wait for the revocation hint after it.
  const t0 = Date.now();
  while (!/Ctrl-C stops the server/.test(out) && demo.exitCode === null && Date.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 200));
  }
  check(/Open, in order:/.test(out), `the demo prints what to open (after ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  const list = out.slice(out.indexOf('Open, in order:'));
  const urls = [...list.matchAll(/^ {7}(http\S+)$/gm)].map((m) => m[1]);
  const items = [...list.matchAll(/^ {2}\d+\. (.*)$/gm)].map((m) => m[1]);
  console.log(items.map((w, i) => `   ${i + 1}. ${w}: ${urls[i]}`).join('\n'));
  const order = ['the PDF', 'the 3D assembly', 'the shaft alone', 'the DXF drawing', 'the owner console', 'the review console', 'the partner portal'];
  check(order.every((o, i) => items[i] && items[i].startsWith(o)),
    'in order: PDF, 3D assembly, the shaft alone (need-to-know parts), DXF drawing, owner console, review console, partner portal');
  const login = list.match(/log in as (\S+) \/ (\S+)\)/);
  const linkId = list.match(/revoke link (\S+) /);
  check(login && linkId, 'the login and the PDF link id are printed');
  // No stray error lines in a successful run (lavapipe's XDG_RUNTIME_DIR warning, panics, …).
  const stray = err.split('\n').filter((l) => /error|panick/i.test(l));
  check(stray.length === 0, `no error lines on stderr${stray.length ? `: ${stray.join(' | ')}` : ''}`);

  browser = await launchChromium();
  const viewer = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await viewer.goto(urls[0]);
  await viewer.waitForSelector('body[data-state=ready]', { timeout: 60_000 }).catch(() => {});
  const label = await viewer.evaluate(() => [document.body.dataset.state, document.getElementById('page-canvas').getAttribute('aria-label')]);
  check(label[0] === 'ready' && String(label[1]).includes('alice@supplier.example'),
    `the PDF opens, watermarked for the recipient (${label[1]})`);
  // The classification banner is drawn into the frame itself (top and bottom strips in the
  // level's colour: Internal is blue), not laid over it by the page.
  const banner = await viewer.evaluate(() => {
    const c = document.getElementById('page-canvas');
    const ctx = c.getContext('2d');
    const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data].slice(0, 3);
    return [document.body.dataset.level, document.getElementById('level').textContent, at(2, 2), at(2, c.height - 3), at(2, Math.floor(c.height / 2)),
      document.getElementById('level').dataset.rank];
  });
  const blue = (p) => Math.abs(p[0] - 44) < 16 && Math.abs(p[1] - 74) < 16 && Math.abs(p[2] - 117) < 16;
  check(banner[0] === 'Internal' && banner[1] === 'Internal' && banner[5] === '1' && blue(banner[2]) && blue(banner[3]) && !blue(banner[4]),
    `the frame carries the document's level as a banner at top and bottom (${JSON.stringify(banner)})`);
  const session = String(label[1]).match(/session ([0-9a-f]+)/);
  check(session && session[1].length === 12, `the watermark shows the session as 12 hex digits, as identify prints (${session && session[1]})`);

  const console_ = await browser.newPage();
  await console_.goto(urls[items.findIndex((w) => w.startsWith('the owner console'))]);
  await console_.fill('#email', login[1]);
  await console_.fill('#password', login[2]);
  await Promise.all([console_.waitForURL('**/console/documents'), console_.click('button[type=submit]')]);
  await console_.goto(new URL('/console/links', urls[0]).href);
  const form = console_.locator(`form[action="/console/links/${linkId[1]}/revoke"]`);
  check(await form.count() === 1, `the console lists link ${linkId[1]} with a Revoke button`);
  const tr = Date.now();
  await Promise.all([console_.waitForLoadState(), form.locator('button').click()]);
  await viewer.waitForFunction(() => document.body.dataset.state === 'revoked'
    && document.getElementById('page-canvas').width === 0, null, { timeout: 5000 }).catch(() => {});
  const after = await viewer.evaluate(() => [document.body.dataset.state, document.getElementById('error-title').textContent]);
  check(after[0] === 'revoked', `revoking in the console blanks the open viewer in ${Date.now() - tr} ms ("${after[1]}")`);
} finally {
  if (browser) await browser.close();
  demo.kill('SIGINT');
  await new Promise((r) => { if (demo.exitCode !== null) r(); else demo.on('exit', r); });
  rmSync(dir, { recursive: true, force: true });
}
if (failures) console.log(`--- demo output ---\n${out}\n--- stderr ---\n${err}`);
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
