// Owner and review console in headless Chromium: log in, upload and seal, create and revoke a
// link, filter and export the audit log, review hits by keyboard and export evidence, add a
// member through the members page, enrol a TOTP second factor and log in with it, and post a
// form to the console from another origin (refused); axe-core
// on every page (no serious or critical violations); planted hostile listing text must stay
// text (no dialog, no injected script, no CSP violation). Screenshots go to docs/screenshots/.
//
// Usage: node console.test.mjs [path/to/console_fixture]   (cargo xtask runs it)
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const fixture = process.argv[2] || join(root, 'target/debug/examples/console_fixture');
const shots = process.env.CONSOLE_SCREENSHOTS || join(root, 'docs/screenshots');
mkdirSync(shots, { recursive: true });

const failures = [];

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s) from a base32 secret, as an authenticator app computes it.
function totp(secret, unixSecs) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

const data = mkdtempSync(join(tmpdir(), 'veilmark-console-'));
const server = spawn(fixture, [data, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((res, rej) => {
  let buf = '';
  server.stdout.on('data', (d) => {
    buf += d;
    const m = buf.match(/READY (http:\/\/\S+)/);
    if (m) res(m[1]);
  });
  server.on('exit', (c) => rej(new Error(`fixture exited with ${c}`)));
  setTimeout(() => rej(new Error('fixture did not start')), 60000);
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  const axe = async (name) => {
    await page.evaluate(axeSource);
    const r = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
    const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    for (const v of bad) console.log(`  axe ${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    check(bad.length === 0, `axe: no serious or critical violations on ${name}`);
  };
  const shot = (name) => page.screenshot({ path: join(shots, `${name}.png`) });

  // Login.
  await page.goto(`${base}/console`);
  check(page.url().endsWith('/console/login'), 'anonymous visitors land on the login page');
  await axe('login');
  await shot('console-login');
  await page.fill('#email', 'owner@brand.example');
  await page.fill('#password', 'wrong');
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  check(await page.getByText('Wrong e-mail or password.').isVisible(), 'a wrong password is reported');
  await page.fill('#email', 'owner@brand.example');
  await page.fill('#password', 'correct horse battery');
  await Promise.all([page.waitForURL('**/console/documents'), page.click('button[type=submit]')]);
  check(true, 'logged in');

  // Upload and seal.
  await page.setInputFiles('#file', { name: 'hinge-rev-a.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n% hinge\n'.padEnd(20000, ' ')) });
  check((await page.inputValue('#title')) === 'hinge-rev-a', 'the title is taken from the file name');
  await Promise.all([page.waitForEvent('load'), page.click('#upload button[type=submit]')]);
  check(await page.locator('tr td:first-child', { hasText: 'hinge-rev-a' }).count() === 1, 'the uploaded file is sealed and listed');
  const hingeRow = page.locator('tr', { has: page.locator('td', { hasText: 'hinge-rev-a' }) });
  check((await hingeRow.locator('.badge.level').textContent()) === 'Internal', 'the documents list marks its level (Internal by default)');
  await axe('documents');
  await shot('console-documents');

  // Links: create, copy, revoke.
  await page.click('nav >> text=Links');
  await page.selectOption('#document', { label: 'hinge-rev-a (Internal)' });
  await page.fill('#recipient', 'dana@supplier.example');
  await page.fill('#expires', '14');
  await page.fill('#max-views', '10');
  await page.check('#passcode');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/links"] button[type=submit]')]);
  const url = await page.inputValue('#new-url');
  check(url.startsWith(`${base}/v/`), 'the new protected link is shown');
  check((await page.inputValue('#new-pass')).length > 0, 'the passcode is shown');
  await page.click('button[data-copy="new-url"]');
  check(await page.textContent('button[data-copy="new-url"]') === 'Copied', 'the copy button copies the link');
  await axe('links');
  await shot('console-links');
  const live = await page.locator('button', { hasText: 'Revoke' }).count();
  await Promise.all([page.waitForURL('**/console/links'), page.locator('button', { hasText: 'Revoke' }).first().click()]);
  check(await page.locator('button', { hasText: 'Revoke' }).count() === live - 1, 'revoke takes one click');

  // Audit: filter, export, chain status.
  await page.click('nav >> text=Audit');
  check(await page.getByText('Chain verified:').isVisible(), 'the chain status is shown');
  await page.selectOption('#f-ev', 'revoke');
  await Promise.all([page.waitForLoadState(), page.click('form.filters button[type=submit]')]);
  check(await page.getByText('1 matching entries').isVisible(), 'the audit log filters by event');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('text=Export CSV')]);
  const csvText = readFileSync(await csv.path(), 'utf8');
  check(csvText.includes('revoke') && !csvText.includes('owner-login'), 'the CSV export follows the filter');
  await page.goto(`${base}/console/audit`);
  await axe('audit');
  await shot('console-audit');

  // Classification: raise the hinge to Confidential; its live links are re-checked (the one to a
  // recipient who is no approved supplier is revoked), and a new link to them is refused with
  // the ceiling named.
  await page.click('nav >> text=Documents');
  await hingeRow.locator('select').selectOption('Confidential');
  await Promise.all([page.waitForLoadState(), hingeRow.locator('button', { hasText: 'Set' }).click()]);
  const notice = await page.locator('.alert.success').textContent().catch(() => '');
  check(/level Internal → Confidential: \d+ live link\(s\) shortened, \d+ revoked/.test(notice), `the level change says what it did to the live links (${notice})`);
  check((await hingeRow.locator('.badge.level').textContent()) === 'Confidential', 'the documents list shows the new level');
  await page.click('nav >> text=Links');
  check(await page.locator('td .badge.level', { hasText: 'Confidential' }).count() >= 1, 'the links list marks each link with its document\'s level');
  await page.selectOption('#document', { label: 'hinge-rev-a (Confidential)' });
  await page.fill('#recipient', 'erin@supplier.example');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/links"] button[type=submit]')]);
  const refusal = await page.locator('.alert.error').textContent().catch(() => '');
  check(refusal.includes('Confidential documents may only be shared with approved suppliers; supplier.example is not a known supplier'),
    `a link beyond the level's ceilings is refused, naming the ceiling (${refusal})`);

  // Suppliers: approve one, share with its person, then off-board it (confirmation required);
  // the access report downloads as CSV and PDF.
  await page.click('nav >> text=Suppliers');
  await page.fill('#supplier-domain', 'parts.example');
  await page.fill('#supplier-name', 'Parts Ltd');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/suppliers"] button[type=submit]')]);
  check(await page.locator('tr td:first-child', { hasText: 'Parts Ltd' }).count() === 1, 'an approved supplier is listed');
  await axe('suppliers');
  await page.click('nav >> text=Links');
  await page.selectOption('#document', { label: 'hinge-rev-a (Confidential)' });
  await page.fill('#recipient', 'erin@parts.example');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/links"] button[type=submit]')]);
  check((await page.inputValue('#new-url')).startsWith(`${base}/v/`), 'an approved supplier gets a link to a Confidential document');
  await page.click('nav >> text=Suppliers');
  const offboard = page.locator('form[action="/console/suppliers/parts.example/offboard"]');
  await offboard.locator('button').click();
  check(await offboard.locator('input[type=checkbox]:invalid').count() === 1, 'off-boarding waits for its confirmation');
  await offboard.locator('input[type=checkbox]').check();
  await Promise.all([page.waitForLoadState(), offboard.locator('button').click()]);
  const offNotice = await page.locator('.alert.success').textContent().catch(() => '');
  check(/off-boarded: [1-9]\d* live link\(s\) revoked/.test(offNotice), `off-boarding revokes the supplier's links (${offNotice})`);
  await shot('console-suppliers');
  const [reportCsv] = await Promise.all([page.waitForEvent('download'), page.click('a[href="/console/suppliers/parts.example/report/csv"]')]);
  const reportText = readFileSync(await reportCsv.path(), 'utf8');
  check(reportText.startsWith('recipient,link,document') && reportText.includes('erin@parts.example'), 'the access report downloads as CSV');
  const [reportPdf] = await Promise.all([page.waitForEvent('download'), page.click('a[href="/console/suppliers/parts.example/report/pdf"]')]);
  check(readFileSync(await reportPdf.path()).subarray(0, 5).toString() === '%PDF-', 'the access report downloads as PDF');

  // Access review: start one; the links page reminds of it; confirm one link, revoke another;
  // the review exports as CSV.
  await page.click('nav >> text=Access review');
  await Promise.all([page.waitForLoadState(), page.click('#start-review')]);
  const started = await page.locator('.alert.success').textContent().catch(() => '');
  check(/Review rev_[0-9a-f]{16} started: [1-9]\d* live link\(s\)/.test(started), `an admin starts a review of the live links (${started})`);
  const rows = page.locator('#review-links tbody tr');
  const reviewed = await rows.count();
  check(reviewed >= 2, `every live link is in the review (${reviewed})`);
  await axe('access review');
  await shot('console-access-review');
  await page.click('nav >> text=Links');
  const banner = await page.locator('.review-reminder').textContent().catch(() => '');
  check(new RegExp(`Access review: ${reviewed} link\\(s\\) wait for your decision`).test(banner), `other pages remind of the links to decide (${banner})`);
  await Promise.all([page.waitForLoadState(), page.click('.review-reminder a')]);
  await Promise.all([page.waitForLoadState(), rows.nth(0).locator('button', { hasText: 'Confirm' }).click()]);
  check((await rows.nth(0).locator('.badge.live').textContent()) === 'confirmed', 'a confirmed link shows its decision');
  await Promise.all([page.waitForLoadState(), rows.nth(1).locator('button', { hasText: 'Revoke' }).click()]);
  check((await rows.nth(1).locator('.badge.revoked').textContent()) === 'revoked', 'a revoked link shows its decision');
  check((await page.locator('[data-count="undecided"]').textContent()) === String(reviewed - 2), 'the counts follow the decisions');
  const [reviewCsv] = await Promise.all([page.waitForEvent('download'), page.click('a[href$="/export.csv"]')]);
  const reviewText = readFileSync(await reviewCsv.path(), 'utf8');
  check(reviewText.startsWith('review,started,due') && reviewText.includes('"confirmed"') && reviewText.includes('"revoked"'), 'the review exports as CSV with its decisions');

  // Alerts: an unusual opening is listed (its hostile text as text) and acknowledged; an admin
  // adds a webhook and sees its signing secret once; a private address is refused.
  await page.click('nav >> text=Alerts');
  const alertRow = page.locator('#alerts tr[data-kind="new-network"]');
  check(await alertRow.count() === 1, 'an unusual opening is listed');
  check((await alertRow.textContent()).includes('<img src=x onerror=window.__pwned=1>'), 'the alert text shows as text');
  await Promise.all([page.waitForLoadState(), alertRow.locator('button', { hasText: 'Acknowledge' }).click()]);
  check(/acknowledged/i.test(await page.locator('#alerts-notice').textContent().catch(() => '')), 'an alert is acknowledged');
  await page.fill('#webhook-url', 'https://siem.brand.example/veilmark');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/alerts/webhooks"] button[type=submit]')]);
  const hookNotice = await page.locator('#alerts-notice').textContent().catch(() => '');
  check(/signing secret, shown only now: whsec_[0-9a-f]{64}/.test(hookNotice), `a webhook is added with its secret shown once (${hookNotice})`);
  check(await page.locator('#webhooks tbody tr').count() === 1, 'the webhook is listed');
  await page.fill('#webhook-url', 'https://10.0.0.5/hook');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/alerts/webhooks"] button[type=submit]')]);
  check((await page.locator('.alert.error').textContent().catch(() => '')).includes('not a public address'), 'a webhook to a private address is refused');
  await page.goto(`${base}/console/alerts`);
  check(!(await page.content()).includes('whsec_'), 'the secret is not shown again');
  await axe('alerts');
  await shot('console-alerts');

  // Review: hostile text stays text; keyboard review; bulk evidence export.
  await page.click('nav >> text=Review hits');
  check(await page.evaluate(() => globalThis.__pwned) === undefined, 'planted markup ran no script');
  check(await page.getByText('<script>window.__pwned=1</script>Heavy bracket').count() === 1, 'a hostile title shows as text');
  check(await page.locator('a[href^="javascript:"]').count() === 0, 'no javascript: link is rendered');
  check(await page.locator('img[src="x"]').count() === 0, 'no planted image element exists');
  const imgs = await page.evaluate(() => [...document.querySelectorAll('article img')].filter((i) => i.complete && i.naturalWidth > 0).length);
  check(imgs > 0, 'found and reference images load');
  await axe('review');
  await shot('console-review');
  const before = await page.locator('article.hit').count();
  await page.keyboard.press('j');
  await page.keyboard.press('c');
  const confirmed = await page.waitForFunction((n) => document.readyState === 'complete'
    && document.querySelectorAll('article.hit').length === n, before - 1, { timeout: 10000 }).then(() => true, () => false);
  check(confirmed, 'j then c confirms the first open hit');
  await page.check('#select-all');
  const [zip] = await Promise.all([page.waitForEvent('download'), page.click('button[value="bundle"]')]);
  const zipBytes = readFileSync(await zip.path());
  check(zipBytes.subarray(0, 2).toString() === 'PK' && zipBytes.includes(Buffer.from('MANIFEST.sha256')), 'the evidence bundle downloads with its manifest');
  await page.goto(`${base}/console/review?state=all`);
  await page.setViewportSize({ width: 820, height: 1180 });
  await shot('console-review-tablet');
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(`${base}/console/review?state=confirmed`);
  await axe('review (confirmed)');
  // Tenancy: the second organisation's document and link are nowhere on this one's pages.
  await page.goto(`${base}/console/links`);
  check(await page.locator('header .org', { hasText: 'default' }).count() === 1, 'the header names the organisation');
  check(!(await page.content()).includes('carol@supplier.example'), "another organisation's links are not listed");

  // A form posted from another origin, in the same browser with the session cookie, fails.
  const liveRow = page.locator('tr', { has: page.locator('button', { hasText: 'Revoke' }) }).last();
  const linkId = await liveRow.locator('td code', { hasText: 'lnk_' }).textContent();
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><title>evil</title><form method="post" action="${base}/console/links/${linkId}/revoke">`
      + '<input name="csrf" value="guess"></form><script>document.forms[0].submit()</script>');
  });
  await new Promise((r) => evil.listen(0, '127.0.0.2', r));
  const evilPage = await context.newPage();
  const crossStatus = new Promise((resolve) => evilPage.on('response', (r) => {
    if (r.url().includes('/revoke')) resolve(r.status());
  }));
  await evilPage.goto(`http://127.0.0.2:${evil.address().port}/`);
  const status = await Promise.race([crossStatus, new Promise((r) => setTimeout(() => r('none'), 10000))]);
  check(status === 401 || status === 403, `a cross-site form post is refused (HTTP ${status})`);
  await evilPage.close();
  evil.close();
  await page.goto(`${base}/console/links`);
  const row = page.locator('tr', { has: page.locator('code', { hasText: linkId }) });
  check(await row.locator('button', { hasText: 'Revoke' }).count() === 1, 'the link is still live after the cross-site post');

  // Members: add a reviewer, who sets a password through the one-time link.
  await page.click('nav >> text=Members');
  await axe('members');
  await page.fill('#member-email', 'rita@brand.example');
  await page.selectOption('#member-role', 'reviewer');
  await Promise.all([page.waitForLoadState(), page.click('form[action="/console/members"] button[type=submit]')]);
  const welcome = await page.inputValue('#welcome-url');
  check(welcome.startsWith(`${base}/console/welcome/`), 'adding a member shows a one-time set-password link');
  await shot('console-members');
  const rita = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const rp = await rita.newPage();
  await rp.goto(welcome);
  await rp.fill('#password', 'rita reviews hits');
  await rp.fill('#again', 'rita reviews hits');
  await Promise.all([rp.waitForLoadState(), rp.click('button[type=submit]')]);
  check(await rp.getByText('Password set.').isVisible(), 'the new member sets a password');
  await rp.goto(welcome);
  check((await rp.content()).includes('not found'), 'the set-password link works once');
  await rp.goto(`${base}/console/login`);
  await rp.fill('#email', 'rita@brand.example');
  await rp.fill('#password', 'rita reviews hits');
  await Promise.all([rp.waitForURL('**/console/review'), rp.click('button[type=submit]')]);
  const tabs = await rp.locator('header nav li a').allTextContents();
  check(JSON.stringify(tabs) === JSON.stringify(['Review hits', 'Account']), `a reviewer sees only her tabs (${tabs.join(', ')})`);
  const forbidden = await rp.goto(`${base}/console/links`);
  check(forbidden.status() === 403, 'a page the role may not use answers 403');

  // Second factor: enrol with the QR page, then log in with a code; a recovery code works once.
  await rp.goto(`${base}/console/account`);
  await Promise.all([rp.waitForLoadState(), rp.click('text=Set up a second factor')]);
  const qrOk = await rp.evaluate(() => { const i = document.querySelector('#totp-qr'); return i.complete && i.naturalWidth > 0; });
  check(qrOk, 'the enrolment QR code is drawn by the server and loads under the CSP');
  await axe('account (enrolment)');
  await rp.screenshot({ path: join(shots, 'console-totp-enrol.png') });
  const secret = (await rp.textContent('#totp-secret')).trim();
  await rp.fill('#totp-code', totp(secret, Date.now() / 1000));
  await Promise.all([rp.waitForLoadState(), rp.click('form[action="/console/account/totp"] button[type=submit]')]);
  const codes = await rp.locator('#recovery-codes code').allTextContents();
  check(codes.length === 10, 'ten recovery codes are shown once');
  await Promise.all([rp.waitForURL('**/console/login'), rp.click('header button:has-text("Log out")')]);
  await rp.fill('#email', 'rita@brand.example');
  await rp.fill('#password', 'rita reviews hits');
  await Promise.all([rp.waitForLoadState(), rp.click('button[type=submit]')]);
  check(await rp.locator('#code').isVisible(), 'the login asks for the second factor');
  await rp.fill('#code', '000000');
  await Promise.all([rp.waitForLoadState(), rp.click('button[type=submit]')]);
  check(await rp.getByText('Wrong or already used code.').isVisible(), 'a wrong code is refused');
  await rp.fill('#code', totp(secret, Date.now() / 1000 + 30));
  await Promise.all([rp.waitForURL('**/console/review'), rp.click('button[type=submit]')]);
  check(true, 'a fresh code logs in');
  await Promise.all([rp.waitForURL('**/console/login'), rp.click('header button:has-text("Log out")')]);
  await rp.fill('#email', 'rita@brand.example');
  await rp.fill('#password', 'rita reviews hits');
  await Promise.all([rp.waitForLoadState(), rp.click('button[type=submit]')]);
  await rp.fill('#code', codes[0]);
  await Promise.all([rp.waitForURL('**/console/review'), rp.click('button[type=submit]')]);
  check(true, 'a recovery code logs in');
  await rita.close();
  await page.goto(`${base}/console/members`);
  const ritaRow = page.locator('tr', { hasText: 'rita@brand.example' });
  check(await ritaRow.locator('td', { hasText: 'On' }).count() >= 1, 'the members page shows her second factor');

  check(problems.length === 0, `no dialogs, script errors or CSP violations${problems.length ? ': ' + problems.join('; ') : ''}`);
} finally {
  await browser.close();
  server.kill();
  rmSync(data, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('console e2e: all checks passed');
