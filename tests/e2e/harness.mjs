// What the browser scripts share: Debian's Chromium with the project's flags (never
// `playwright install`), and a real `veilmark serve` on 127.0.0.1:0 whose address is read from
// the `public-url` file it writes into its data folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** Chromium flags for every test and benchmark run (docs: ../shared/BRIEF.md). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Extra flags that give headless Chromium a WebGPU adapter on SwiftShader (no GPU needed). */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

/** Launches the system Chromium (`CHROMIUM` overrides /usr/bin/chromium), with `extraArgs`. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Starts `bin serve --data data --listen 127.0.0.1:0 --www www ...extraArgs` (stderr inherited,
 * stdout too unless `quiet`) and waits up to 10 s for its address. Resolves to
 * `{ server, base }`; `base` is '' if the server never wrote its address.
 */
export async function startVeilmark(bin, data, www, { extraArgs = [], quiet = false } = {}) {
  const server = spawn(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--www', www, ...extraArgs],
    { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
  const urlFile = join(data, 'public-url');
  for (let i = 0; i < 200 && !existsSync(urlFile); i++) await new Promise((r) => setTimeout(r, 50));
  return { server, base: existsSync(urlFile) ? readFileSync(urlFile, 'utf8').trim() : '' };
}

/**
 * Saves a screenshot of `page` for the README (docs/screenshots/NAME, or $VIEWER_SCREENSHOTS/NAME),
 * so that the pictures there are what the browser tests saw on their last run.
 */
export async function readmeShot(page, name) {
  const dir = process.env.VIEWER_SCREENSHOTS
    || join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'docs/screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, name) });
}
