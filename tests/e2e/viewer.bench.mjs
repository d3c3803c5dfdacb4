// Benchmark of the browser viewer against pdf.js, in one headless Chromium (`cargo xtask bench
// viewer` builds everything and runs this; it can also run by hand, see below).
//
// For each PDF: our viewer opens a protected link of a real `veilmark serve` on 127.0.0.1 (wasm
// load, licence, ranged envelope fetches, AES-GCM decryption, parse, render, watermarks), and
// pdf.js (pdfjs-dist, its minified modern build with its worker, standard fonts, CMaps and wasm
// decoders) renders the same file unencrypted from a static server on 127.0.0.1. Every run uses a
// fresh browser context (no HTTP or code cache carried over) and both servers send `no-store`.
//
// Measured, per document:
// - first page: navigation start → first page drawn into its canvas (`performance.now()` in the
//   page right after the draw call returns); pdf.js pays for loading pdf.js and its worker, we
//   pay for loading the wasm and the licence round trip.
// - per-page render: pages 2..N at the same canvas size (our fit-width size at a 1200×900
//   viewport, device pixel ratio 1): for us `Viewer.render` (hayro render + visible and forensic
//   marks + putImageData, timed in wasm), for pdf.js `getPage` + `render().promise`.
// - decryption in the browser: WebCrypto AES-256-GCM over 64 MiB in 64 KiB chunks (the
//   envelope's chunk size), next to our wasm figure passed in with --wasm-results.
//
// Run: www/viewer/build.sh && cargo build --release -p veilmark && (cd tests/e2e && npm ci) &&
//   (npm pack pdfjs-dist@6.5.438, unpacked) &&
//   node tests/e2e/viewer.bench.mjs --bin target/release/veilmark --pdfjs DIR --pdf name=/path/file.pdf ...
// Options: --runs N (default 3), --pages N (pages timed per document, default 8),
//   --out results.json, --wasm-results micro.json (from the wasm_bench test), CHROMIUM env.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium, startVeilmark } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values: opts } = parseArgs({
  options: {
    bin: { type: 'string', default: join(root, 'target/release/veilmark') },
    pdf: { type: 'string', multiple: true, default: [] },
    runs: { type: 'string', default: '3' },
    pages: { type: 'string', default: '8' },
    out: { type: 'string' },
    'wasm-results': { type: 'string' },
    pdfjs: { type: 'string', default: join(root, 'target/bench-viewer/pdfjs-dist-6.5.438') },
  },
});
const runs = Number(opts.runs);
const maxPages = Number(opts.pages);
const pdfs = opts.pdf.map((spec) => {
  const [name, ...rest] = spec.split('=');
  return { name, path: rest.join('=') };
});
if (!pdfs.length) throw new Error('no --pdf name=path given');
for (const p of pdfs) if (!existsSync(p.path)) throw new Error(`missing ${p.path}`);
if (!existsSync(join(root, 'www/viewer/pkg/veilmark_viewer_wasm_bg.wasm'))) {
  throw new Error('wasm not built: run www/viewer/build.sh');
}
const pdfjsDir = resolve(opts.pdfjs);
if (!existsSync(join(pdfjsDir, 'build/pdf.min.mjs'))) throw new Error(`no pdfjs-dist in ${pdfjsDir} (--pdfjs)`);
const pdfjsVersion = JSON.parse(readFileSync(join(pdfjsDir, 'package.json'), 'utf8')).version;
const VIEWPORT = { width: 1200, height: 900 };

// The pdf.js page: loads pdf.js like an application would, opens the file, draws page 1 at the
// width it is given, then times pages 2..N at the same width.
const PDFJS_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>pdf.js</title>
<style>body{margin:0}</style></head><body><canvas id="c"></canvas>
<script type="module">
const mark = (k) => { document.body.dataset[k] = performance.now().toFixed(1); };
try {
  const pdfjs = await import('/pdfjs/build/pdf.min.mjs');
  pdfjs.GlobalWorkerOptions.workerSrc = '/pdfjs/build/pdf.worker.min.mjs';
  mark('libReadyMs');
  const q = new URLSearchParams(location.search);
  const width = Number(q.get('width'));
  const pages = Number(q.get('pages'));
  const doc = await pdfjs.getDocument({ url: q.get('pdf'), cMapUrl: '/pdfjs/cmaps/', cMapPacked: true,
    standardFontDataUrl: '/pdfjs/standard_fonts/', wasmUrl: '/pdfjs/wasm/', iccUrl: '/pdfjs/iccs/' }).promise;
  mark('openedMs');
  const canvas = document.getElementById('c');
  const draw = async (n) => {
    const t = performance.now();
    const page = await doc.getPage(n);
    const viewport = page.getViewport({ scale: width / page.getViewport({ scale: 1 }).width });
    canvas.width = Math.round(viewport.width);
    canvas.height = Math.round(viewport.height);
    await page.render({ canvas, viewport }).promise;
    return performance.now() - t;
  };
  const first = await draw(1);
  mark('firstPageMs');
  document.body.dataset.page1Ms = first.toFixed(1);
  document.body.dataset.size = canvas.width + 'x' + canvas.height;
  const times = [];
  for (let n = 2; n <= Math.min(pages, doc.numPages); n++) times.push(await draw(n));
  document.body.dataset.perPage = JSON.stringify(times.map((t) => Number(t.toFixed(1))));
  document.body.dataset.pageCount = String(doc.numPages);
  document.body.dataset.state = 'done';
} catch (e) {
  document.body.dataset.error = String(e && e.stack || e);
  document.body.dataset.state = 'error';
}
</script></body></html>`;

const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.pdf': 'application/pdf', '.html': 'text/html; charset=utf-8', '.json': 'application/json' };

/** Static server for the pdf.js side: the page, pdfjs-dist, and the PDFs in the clear. */
function staticServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    if (url.pathname === '/blank') {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      return res.end('<!doctype html><title>blank</title>');
    }
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      return res.end(PDFJS_PAGE);
    }
    if (url.pathname.startsWith('/pdfjs/')) {
      const p = normalize(join(pdfjsDir, url.pathname.slice('/pdfjs/'.length)));
      if (p.startsWith(pdfjsDir)) file = p;
    } else if (url.pathname.startsWith('/pdf/')) {
      file = pdfs[Number(url.pathname.slice(5))]?.path;
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

async function measureOurs(browser, url) {
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(url);
    await page.waitForSelector('body[data-state]:not([data-state=""])', { timeout: 120_000 });
    const first = await page.evaluate(() => {
      const d = document.body.dataset;
      const c = document.getElementById('page-canvas');
      const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
      return { state: d.state, wasmReadyMs: +d.wasmReadyMs, openedMs: +d.openedMs, firstPageMs: +d.firstPageMs,
        page1Ms: +d.renderMs, size: `${c.width}x${c.height}`, width: c.width,
        pageCount: Number(document.getElementById('count').textContent),
        wasmTransfer: wasm ? wasm.encodedBodySize : 0, wasmDecoded: wasm ? wasm.decodedBodySize : 0 };
    });
    if (first.state !== 'ready') throw new Error(`viewer state ${first.state}: ${errors.join('; ')}`);
    // Thumbnails keep rendering between key presses (one per task); a page render is one
    // synchronous call, so they cannot stretch the time it reports.
    const perPage = [];
    for (let n = 2; n <= Math.min(maxPages, first.pageCount); n++) {
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction((k) => document.body.dataset.page === String(k), n);
      perPage.push(Number(await page.evaluate(() => document.body.dataset.renderMs)));
    }
    return { ...first, perPage };
  } finally {
    await ctx.close();
  }
}

async function measurePdfjs(browser, base, index, width, pages) {
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  try {
    await page.goto(`${base}/?pdf=/pdf/${index}&width=${width}&pages=${pages}`);
    await page.waitForSelector('body[data-state]', { timeout: 300_000 });
    const r = await page.evaluate(() => ({ ...document.body.dataset }));
    if (r.state !== 'done') throw new Error(`pdf.js failed: ${r.error}`);
    return { libReadyMs: +r.libReadyMs, openedMs: +r.openedMs, firstPageMs: +r.firstPageMs, page1Ms: +r.page1Ms,
      size: r.size, pageCount: +r.pageCount, perPage: JSON.parse(r.perPage) };
  } finally {
    await ctx.close();
  }
}

/** WebCrypto AES-256-GCM decryption of 64 MiB in 64 KiB chunks, one call per chunk, in turn. */
async function webCryptoThroughput(browser, base) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  try {
    await page.goto(`${base}/blank`);
    return await page.evaluate(async () => {
      const CHUNK = 64 * 1024;
      const COUNT = 1024;
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      const plain = new Uint8Array(CHUNK);
      for (let i = 0; i < CHUNK; i += 65536) crypto.getRandomValues(plain.subarray(i, i + 65536));
      const sealed = [];
      for (let i = 0; i < COUNT; i++) {
        const iv = new Uint8Array(12);
        new DataView(iv.buffer).setUint32(8, i);
        sealed.push([iv, await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain)]);
      }
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        const t = performance.now();
        for (const [iv, c] of sealed) await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, c);
        best = Math.min(best, performance.now() - t);
      }
      return (CHUNK * COUNT) / 1e6 / (best / 1000);
    });
  } finally {
    await ctx.close();
  }
}

const data = mkdtempSync(join(tmpdir(), 'veilmark-bench-'));
const cli = (...args) => execFileSync(opts.bin, [...args, '--data', data], { encoding: 'utf8' }).trim();
const { server } = await startVeilmark(opts.bin, data, join(root, 'www'), { quiet: true });
let browser;
let statics;
try {
  for (const p of pdfs) {
    const doc = cli('seal', p.path, '--title', p.name);
    p.url = JSON.parse(cli('link', doc, '--to', 'bench@supplier.example', '--json')).url;
    p.bytes = statSync(p.path).size;
  }
  statics = await staticServer();
  const base = `http://127.0.0.1:${statics.address().port}`;
  browser = await launchChromium();
  const version = browser.version();
  const results = [];
  for (const [index, p] of pdfs.entries()) {
    const ours = [];
    const theirs = [];
    for (let r = 0; r < runs; r++) {
      const o = await measureOurs(browser, p.url);
      ours.push(o);
      theirs.push(await measurePdfjs(browser, base, index, o.width, maxPages));
      process.stderr.write(`${p.name} run ${r + 1}/${runs}: first page ${o.firstPageMs.toFixed(0)} ms `
        + `vs pdf.js ${theirs.at(-1).firstPageMs.toFixed(0)} ms\n`);
    }
    results.push({ name: p.name, bytes: p.bytes, pages: ours[0].pageCount, size: ours[0].size, ours, pdfjs: theirs });
  }
  const webcrypto = await webCryptoThroughput(browser, base);
  const wasm = opts['wasm-results'] ? JSON.parse(readFileSync(opts['wasm-results'], 'utf8')) : {};
  const summary = { chromium: version, pdfjs: pdfjsVersion, runs, viewport: VIEWPORT, results, webcrypto, wasm };
  if (opts.out) writeFileSync(opts.out, JSON.stringify(summary, null, 2));
  printTable(summary);
} finally {
  if (browser) await browser.close();
  if (statics) statics.close();
  server.kill('SIGINT');
  rmSync(data, { recursive: true, force: true });
}

function printTable(s) {
  const pad = (v, n) => String(v).padStart(n);
  const ms = (v) => (Number.isFinite(v) ? v.toFixed(0) : '-');
  console.log(`\nviewer benchmark: Chromium ${s.chromium} headless, viewport ${s.viewport.width}×${s.viewport.height} at`
    + ` DPR 1, pdf.js ${s.pdfjs}; medians of ${s.runs} runs (fresh browser context each)`);
  console.log('\nfirst page = navigation → first page drawn; per page = median render of pages 2..N at the same size\n');
  console.log(`${'document'.padEnd(24)} ${pad('pages', 5)} ${pad('KB', 6)} ${pad('canvas', 10)} | `
    + `${pad('first page ms', 13)} ${pad('pdf.js', 7)} ${pad('ratio', 6)} | ${pad('per page ms', 11)} ${pad('pdf.js', 7)} ${pad('ratio', 6)}`);
  for (const r of s.results) {
    const ourFirst = median(r.ours.map((o) => o.firstPageMs));
    const theirFirst = median(r.pdfjs.map((o) => o.firstPageMs));
    const ourPage = median(r.ours.flatMap((o) => o.perPage));
    const theirPage = median(r.pdfjs.flatMap((o) => o.perPage));
    console.log(`${r.name.padEnd(24)} ${pad(r.pages, 5)} ${pad((r.bytes / 1024).toFixed(0), 6)} ${pad(r.size, 10)} | `
      + `${pad(ms(ourFirst), 13)} ${pad(ms(theirFirst), 7)} ${pad((ourFirst / theirFirst).toFixed(2), 6)} | `
      + `${pad(ms(ourPage), 11)} ${pad(ms(theirPage), 7)} ${pad((ourPage / theirPage).toFixed(2), 6)}`);
  }
  console.log('\nwhere our first page goes (medians, ms since navigation): wasm ready / document decrypted and parsed /'
    + ' page 1 drawn (render alone); pdf.js: library ready / document open / page 1 drawn (render alone)');
  for (const r of s.results) {
    const m = (xs, k) => ms(median(xs.map((o) => o[k])));
    console.log(`${r.name.padEnd(24)} Veilmark ${m(r.ours, 'wasmReadyMs')} / ${m(r.ours, 'openedMs')} / `
      + `${m(r.ours, 'firstPageMs')} (${m(r.ours, 'page1Ms')})   pdf.js ${m(r.pdfjs, 'libReadyMs')} / `
      + `${m(r.pdfjs, 'openedMs')} / ${m(r.pdfjs, 'firstPageMs')} (${m(r.pdfjs, 'page1Ms')})`);
  }
  const w = s.results[0]?.ours[0];
  if (w) console.log(`\nviewer wasm on the wire: ${(w.wasmTransfer / 1024).toFixed(0)} KiB (${(w.wasmDecoded / 1024).toFixed(0)} KiB decoded)`);
  console.log(`\nAES-256-GCM decryption in the browser, 64 MiB in 64 KiB chunks:`);
  if (s.wasm.envelope_open_mbps) {
    console.log(`  Veilmark (wasm, EnvelopeReader) ${pad(s.wasm.envelope_open_mbps.toFixed(0), 6)} MB/s`);
    console.log(`  Veilmark (wasm, envelope::open)  ${pad(s.wasm.envelope_open_whole_mbps.toFixed(0), 6)} MB/s`);
  }
  console.log(`  WebCrypto (native, per chunk)  ${pad(s.webcrypto.toFixed(0), 6)} MB/s`);
  if (s.wasm.visible_prepare_ms) {
    console.log('\nwatermarks per 1920×1080 frame in wasm (best of 10):');
    console.log(`  visible mark: lay out (VisibleMark::prepare) ${pad(s.wasm.visible_prepare_ms.toFixed(1), 6)} ms`);
    console.log(`  visible mark: blend (VisibleMark::apply)     ${pad(s.wasm.visible_apply_ms.toFixed(1), 6)} ms`);
    console.log(`  forensic mark (Embedder::embed)             ${pad(s.wasm.forensic_embed_ms.toFixed(1), 6)} ms`);
    console.log(`  the viewer's mark step today (mark_frame)   ${pad(s.wasm.mark_frame_ms.toFixed(1), 6)} ms`);
  }
}
