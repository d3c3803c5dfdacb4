// Serves the example partner portal (www/embed/example-portal/) from its own origin, as a
// partner would, with https://veilmark.example replaced by a real Veilmark server and the
// /v/REPLACE-WITH-TOKEN-N placeholders by real links. Used by embed.e2e.mjs; also runnable:
//
//   veilmark serve --embed-origin http://127.0.0.1:8081 &
//   node tests/e2e/portal-server.mjs --port 8081 --veilmark http://127.0.0.1:8080 LINK [LINK…]
//
// The portal is sent with a strict CSP of its own, to show what a partner page needs to allow
// (script-src and frame-src for the Veilmark origin, nothing inline).
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const portalDir = join(root, 'www/embed/example-portal');
const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript' };

/**
 * Starts one portal server per entry of `ports` (0 = any free port) on 127.0.0.1.
 * `config()` is read on every request and returns `{ veilmark, links, extraFrameSrc }`, so the
 * servers can start before the Veilmark server they point at. Resolves to
 * `{ origins: [...], close() }`.
 */
export async function startPortals(ports, config) {
  const servers = await Promise.all(ports.map((port) => new Promise((ok, fail) => {
    const server = createServer((req, res) => handle(req, res, config()));
    server.on('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  })));
  return {
    origins: servers.map((s) => `http://127.0.0.1:${s.address().port}`),
    close: () => Promise.all(servers.map((s) => new Promise((ok) => { s.closeAllConnections(); s.close(ok); }))),
  };
}

function handle(req, res, { veilmark, links = [], extraFrameSrc = [] }) {
  const path = new URL(req.url, 'http://portal').pathname;
  if (path === '/blank.html') {
    // An unrelated page on this origin (a stand-in for an ad or a widget in another frame).
    res.writeHead(200, { 'content-type': TYPES['.html'] });
    return res.end('<!doctype html><title>blank</title>');
  }
  const name = path === '/' ? 'index.html' : path.slice(1);
  if (!/^[a-z-]+\.(html|css|js)$/.test(name)) {
    res.writeHead(404);
    return res.end();
  }
  let body;
  try {
    body = readFileSync(join(portalDir, name), 'utf8');
  } catch {
    res.writeHead(404);
    return res.end();
  }
  if (name.endsWith('.html')) {
    body = body.replace(/https:\/\/veilmark\.example\/v\/REPLACE-WITH-TOKEN-(\d+)/g,
      (m, n) => links[Number(n) - 1] || m).replaceAll('https://veilmark.example', veilmark);
  }
  const frames = [veilmark, ...extraFrameSrc].join(' ');
  res.writeHead(200, {
    'content-type': TYPES[name.slice(name.lastIndexOf('.'))],
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'self'; script-src 'self' ${veilmark}; `
      + `frame-src ${frames}; style-src 'self'; img-src 'self' data:; base-uri 'none'; `
      + "object-src 'none'; frame-ancestors 'none'",
  });
  return res.end(body);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : dflt;
  };
  const port = Number(opt('--port', '8081'));
  const veilmark = opt('--veilmark', 'http://127.0.0.1:8080').replace(/\/$/, '');
  const { origins } = await startPortals([port], () => ({ veilmark, links: args }));
  console.log(`example portal on ${origins[0]}/ (start veilmark serve with --embed-origin ${origins[0]})`);
}
