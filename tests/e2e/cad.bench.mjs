// Benchmark of the CAD viewer on a large model against three.js, in one headless Chromium
// (`cargo xtask bench cad` generates the model, builds everything and runs this).
//
// Veilmark: a protected link to the sealed STL on a real `veilmark serve` (wasm load, licence,
// ranged envelope fetches, AES-GCM decryption, STL parse and weld, feature edges, GPU upload,
// render, read-back, visible and forensic watermarks, putImageData), on WebGPU (SwiftShader)
// and on WebGL2. three.js: the same STL unencrypted from a static server on 127.0.0.1, parsed
// by its STLLoader and drawn by WebGLRenderer (flat MeshStandardMaterial, one light), no
// watermark. Fresh browser context per run, `no-store` everywhere, viewport 1280×800, DPR 1.
//
// Measured: navigation start → first frame on screen (`performance.now()` in the page; three.js
// waits for the frame with a 1-pixel readPixels), then the mean time per frame over --frames
// orbit steps (each step turns the camera and waits for the new frame to be on the canvas).
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium, startVeilmark, WEBGPU_ARGS } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values: opts } = parseArgs({
  options: {
    bin: { type: 'string', default: join(root, 'target/release/veilmark') },
    stl: { type: 'string' },
    three: { type: 'string' },
    triangles: { type: 'string', default: '?' },
    runs: { type: 'string', default: '3' },
    frames: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const runs = Number(opts.runs);
const frames = Number(opts.frames);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };

// three.js page: served with the STL and three's modules from one static server.
const THREE_PAGE = `<!doctype html><meta charset=utf-8><style>html,body{margin:0;height:100%}canvas{display:block}</style>
<script type=importmap>{"imports":{"three":"/three/build/three.module.js","three/addons/":"/three/examples/jsm/"}}</script>
<script type=module>
import * as THREE from 'three';
import { STLLoader } from 'three/addons/loaders/STLLoader.js';
const renderer = new THREE.WebGLRenderer({ antialias: true });
renderer.setPixelRatio(1);
renderer.setSize(innerWidth, innerHeight);
document.body.append(renderer.domElement);
const scene = new THREE.Scene();
scene.background = new THREE.Color(0xf1f3f5);
const buf = await (await fetch('/model.stl', { cache: 'no-store' })).arrayBuffer();
const geom = new STLLoader().parse(buf);
geom.computeBoundingSphere();
const mesh = new THREE.Mesh(geom, new THREE.MeshStandardMaterial({ color: 0xb8bcc4, flatShading: true }));
scene.add(mesh);
scene.add(new THREE.AmbientLight(0xffffff, 0.6));
const light = new THREE.DirectionalLight(0xffffff, 1.2);
scene.add(light);
const r = geom.boundingSphere.radius;
const aspect = innerWidth / innerHeight;
const camera = new THREE.OrthographicCamera(-r * aspect, r * aspect, r, -r, 0.1, 10 * r);
let angle = Math.PI / 4;
const place = () => { camera.position.set(3 * r * Math.cos(angle), -3 * r * Math.sin(angle), 2 * r); camera.lookAt(0, 0, 0); light.position.copy(camera.position); };
const gl = renderer.getContext();
const px = new Uint8Array(4);
const frame = () => { place(); renderer.render(scene, camera); gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, px); };
frame();
document.body.dataset.firstFrameMs = performance.now().toFixed(1);
window.orbit = (n) => { const t = performance.now(); for (let i = 0; i < n; i++) { angle += 0.05; frame(); } return (performance.now() - t) / n; };
document.body.dataset.ready = '1';
</script>`;

function staticServer(threeDir, stl) {
  const types = { '.js': 'text/javascript', '.html': 'text/html' };
  return new Promise((ok) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url, 'http://x');
      const headers = { 'cache-control': 'no-store' };
      if (url.pathname === '/') { res.writeHead(200, { ...headers, 'content-type': 'text/html' }); return res.end(THREE_PAGE); }
      if (url.pathname === '/model.stl') {
        res.writeHead(200, { ...headers, 'content-type': 'model/stl', 'content-length': statSync(stl).size });
        return createReadStream(stl).pipe(res);
      }
      if (url.pathname.startsWith('/three/')) {
        const file = normalize(join(threeDir, url.pathname.slice('/three/'.length)));
        if (file.startsWith(threeDir)) {
          try {
            statSync(file);
            res.writeHead(200, { ...headers, 'content-type': types[extname(file)] || 'application/octet-stream' });
            return createReadStream(file).pipe(res);
          } catch { /* fall through */ }
        }
      }
      res.writeHead(404); res.end();
    });
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

const data = mkdtempSync(join(tmpdir(), 'veilmark-cad-bench-'));
const cli = (...args) => execFileSync(opts.bin, [...args, '--data', data], { encoding: 'utf8' }).trim();
const { server } = await startVeilmark(opts.bin, data, join(root, 'www'), { quiet: true });
const stat = await staticServer(resolve(opts.three), resolve(opts.stl));
const threeUrl = `http://127.0.0.1:${stat.address().port}/`;
const results = { triangles: Number(opts.triangles), bytes: statSync(opts.stl).size, veilmark: {}, three: {} };
try {
  const doc = cli('seal', opts.stl, '--title', 'Benchmark torus');
  for (const backend of ['webgpu', 'webgl2']) {
    const browser = await launchChromium(WEBGPU_ARGS);
    const first = [], opened = [], perFrame = [], three = [], threeFrame = [];
    try {
      for (let run = 0; run < runs; run++) {
        const link = JSON.parse(cli('link', doc, '--to', 'bench@supplier.example', '--json'));
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
        const page = await ctx.newPage();
        await page.goto(`${link.url}${backend === 'webgl2' ? '?gfx=webgl2' : ''}`);
        await page.waitForFunction(() => document.body.dataset.firstFrameMs || document.body.dataset.state !== 'loading' && document.body.dataset.state !== undefined && document.body.dataset.state !== 'ready',
          null, { timeout: 300_000 });
        const d = await page.evaluate(() => ({ ...document.body.dataset }));
        if (!d.firstFrameMs) throw new Error(`viewer failed: ${JSON.stringify(d)}`);
        first.push(Number(d.firstFrameMs));
        const box = await page.locator('#page-canvas').boundingBox();
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.down();
        const t = Date.now();
        for (let i = 0; i < frames; i++) {
          const n = Number(await page.evaluate(() => document.body.dataset.frames));
          await page.mouse.move(box.x + box.width / 2 + 6 * (i + 1), box.y + box.height / 2);
          await page.waitForFunction((n) => Number(document.body.dataset.frames) > n, n, { timeout: 120_000 });
        }
        perFrame.push((Date.now() - t) / frames);
        await page.mouse.up();
        opened.push(Number(d.openedMs));
        console.log(`veilmark ${backend} run ${run + 1}: wasm ready ${d.wasmReadyMs} ms, opened (licence, fetch, decrypt, parse, edges, upload) ${d.openedMs} ms, first frame ${d.firstFrameMs} ms (${d.frameSize}), ${perFrame.at(-1).toFixed(0)} ms/frame orbiting`);
        await ctx.close();
        if (backend === 'webgl2') {
          const c3 = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
          const p3 = await c3.newPage();
          await p3.goto(threeUrl);
          await p3.waitForFunction(() => document.body.dataset.ready, null, { timeout: 300_000 });
          three.push(Number(await p3.evaluate(() => document.body.dataset.firstFrameMs)));
          threeFrame.push(await p3.evaluate((n) => window.orbit(n), frames));
          console.log(`three.js ${backend} run ${run + 1}: first frame ${three.at(-1)} ms, ${threeFrame.at(-1).toFixed(0)} ms/frame`);
          await c3.close();
        }
      }
    } finally {
      await browser.close();
    }
    results.veilmark[backend] = { openedMs: median(opened), firstFrameMs: median(first), frameMs: median(perFrame) };
    if (three.length) results.three.webgl2 = { firstFrameMs: median(three), frameMs: median(threeFrame) };
  }
} finally {
  server.kill('SIGINT');
  stat.close();
  rmSync(data, { recursive: true, force: true });
}
const fmt = (v) => (Number.isFinite(v) ? `${Math.round(v)} ms` : '—');
console.log(`\n${results.triangles.toLocaleString('en')} triangles, ${(results.bytes / 1e6).toFixed(0)} MB binary STL, medians of ${runs} runs, ${frames} orbit frames each\n`);
console.log('| | load → first frame | frame while orbiting |\n|---|---|---|');
console.log(`| Veilmark, WebGPU (SwiftShader) | ${fmt(results.veilmark.webgpu?.firstFrameMs)} | ${fmt(results.veilmark.webgpu?.frameMs)} |`);
console.log(`| Veilmark, WebGL2 | ${fmt(results.veilmark.webgl2?.firstFrameMs)} | ${fmt(results.veilmark.webgl2?.frameMs)} |`);
console.log(`| three.js ${'0.187.0'} WebGLRenderer (unencrypted, no watermark) | ${fmt(results.three.webgl2?.firstFrameMs)} | ${fmt(results.three.webgl2?.frameMs)} |`);
if (opts.out) writeFileSync(opts.out, JSON.stringify(results, null, 2));
