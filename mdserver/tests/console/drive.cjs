// Drives the mdscan web console in Debian's Chromium, as a person would:
// sign in (with the keyboard), upload EICAR and a tar holding it, see them
// Blocked in the live history, open the result tree, edit a workflow,
// reload the engines,
// make and revoke an API key, make a user, read the audit log and the
// report, drain a worker, use the phone layout, sign out. A screenshot of
// every page goes to $SHOTS. Any script error or CSP violation on the page
// fails the run.
//
// Environment: BASE (the server), MD_USER, MD_PASSWORD, SHOTS (a directory),
// WORKER (a node to drain; optional), PW_DIR (playwright-core).
'use strict';

const path = require('path');
const fs = require('fs');
const { chromium } = require(process.env.PW_DIR);

const BASE = process.env.BASE;
const SHOTS = process.env.SHOTS;
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** A ustar archive of one file. */
function tar(name, data) {
  const header = Buffer.alloc(512, 0);
  const put = (s, off, len) => header.write(s, off, len, 'ascii');
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(data.length.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of header) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512, 0);
  data.copy(body);
  return Buffer.concat([header, body, Buffer.alloc(1024, 0)]);
}

let step = 'start';
const problems = [];

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('pageerror', (e) => problems.push(`${step}: page error: ${e.message}`));
  page.on('console', (m) => {
    // A refused request (the sign-in probe, a wrong password, a revoked
    // key) is expected; anything else (a CSP refusal, a script error) is not.
    if (m.type() === 'error' && !/status of 40[13] /.test(m.text())) {
      problems.push(`${step}: console error: ${m.text()}`);
    }
  });
  page.on('dialog', (d) => d.accept());

  step = 'sign-in';
  await page.goto(BASE + '/');
  await page.locator('#user').waitFor();
  await shot(page, '01-signin');
  // A wrong password says so and keeps the form.
  await page.locator('#user').fill(process.env.MD_USER);
  await page.keyboard.press('Tab');
  await page.keyboard.type('not the password');
  await page.keyboard.press('Enter');
  await page.getByRole('alert').filter({ hasText: 'Failed to login' }).waitFor();
  await page.locator('#password').fill(process.env.MD_PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#cards .stat').first().waitFor();

  step = 'dashboard';
  if (process.env.WORKER) {
    await page.locator('#nodes td', { hasText: process.env.WORKER }).first().waitFor();
  }
  await page.locator('#chart svg').waitFor();
  await shot(page, '02-dashboard');

  step = 'upload';
  await page.locator('nav a[data-page="upload"]').click();
  await page.locator('#files').setInputFiles([
    { name: 'eicar.com', mimeType: 'application/octet-stream', buffer: Buffer.from(EICAR) },
    { name: 'bundle.tar', mimeType: 'application/x-tar', buffer: tar('inner/eicar.txt', Buffer.from(EICAR)) },
  ]);
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await page.locator('#uploads a', { hasText: 'bundle.tar' }).waitFor();
  await page.locator('#uploads a', { hasText: 'eicar.com' }).waitFor();
  await shot(page, '03-upload');

  step = 'history';
  await page.locator('nav a[data-page="history"]').click();
  // Live: the rows turn Blocked without a reload.
  const row = page.locator('#history tbody tr', { hasText: 'bundle.tar' });
  await row.locator('.badge.blocked').waitFor({ timeout: 60000 });
  await page.locator('#history tbody tr', { hasText: 'eicar.com' }).locator('.badge.blocked').waitFor({ timeout: 60000 });
  // Search by name.
  await page.locator('#h-q').fill('bundle');
  await page.locator('#h-q').press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#history tbody tr').length === 1);
  await shot(page, '04-history');

  step = 'result';
  await page.locator('#history a', { hasText: 'bundle.tar' }).click();
  await page.locator('.badge.blocked').first().waitFor();
  await page.locator('.tree a', { hasText: 'eicar.txt' }).waitFor();
  const sha = await page.locator('dd.mono').nth(3).textContent();
  if (!/^[0-9a-f]{64}$/.test(sha.trim())) throw new Error('no SHA-256 on the result page: ' + sha);
  const text = await page.locator('main').textContent();
  if (/\b(null|undefined|NaN)\b/.test(text)) problems.push('result: the page shows ' + text.match(/\b(null|undefined|NaN)\b/)[0]);
  await shot(page, '05-result');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download original' }).click();
  const d = await download;
  const saved = fs.readFileSync(await d.path());
  if (saved.length !== 2048) throw new Error('the download is not the tar: ' + saved.length);
  // Into the child.
  await page.locator('.tree a', { hasText: 'eicar.txt' }).click();
  await page.locator('h1', { hasText: 'eicar.txt' }).waitFor();
  await shot(page, '06-child');

  step = 'workflows';
  await page.locator('nav a[data-page="workflows"]').click();
  await page.locator('#w0-max_depth').waitFor();
  await page.locator('#w0-max_depth').fill('7');
  await page.locator('form[aria-label="Workflow File scan"] button', { hasText: 'Save' }).click();
  await page.locator('#alert', { hasText: 'saved' }).waitFor();
  await page.locator('main .badge', { hasText: 'edited' }).waitFor();
  const depth = await page.evaluate(async () => {
    const r = await fetch('/admin/config/rule', { headers: { apikey: sessionStorage.getItem('mdscan.key') } });
    return (await r.json())[0].max_depth;
  });
  if (depth !== 7) throw new Error('the workflow edit was not saved: ' + depth);
  await shot(page, '07-workflows');

  step = 'engines';
  await page.locator('nav a[data-page="engines"]').click();
  await page.locator('main table tbody tr').first().waitFor();
  await page.locator('#reload-engines').click();
  await page.locator('#alert', { hasText: 'Definitions reloaded' }).waitFor();
  await shot(page, '08-engines');

  step = 'keys';
  await page.locator('nav a[data-page="keys"]').click();
  await page.locator('#k-name').fill('browser test');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.locator('#secret').textContent()).trim();
  if (!/^[0-9a-f]{64}$/.test(secret)) throw new Error('no key secret shown: ' + secret);
  await page.locator('#my-keys td', { hasText: 'browser test' }).waitFor();
  await shot(page, '09-key-created');
  // The key works against the API.
  const me = await page.evaluate(async (k) => (await fetch('/user', { headers: { apikey: k } })).status, secret);
  if (me !== 200) throw new Error('the new key is refused: ' + me);
  await page.locator('#my-keys button', { hasText: 'Revoke' }).first().click();
  await page.locator('#my-keys td', { hasText: 'No key.' }).waitFor();
  const after = await page.evaluate(async (k) => (await fetch('/user', { headers: { apikey: k } })).status, secret);
  if (after !== 403) throw new Error('a revoked key still works: ' + after);

  step = 'users';
  await page.locator('nav a[data-page="users"]').click();
  await page.locator('#u-name').fill('olivia');
  await page.locator('#u-password').fill('operator-password');
  await page.locator('#u-role').selectOption({ label: 'Operators' });
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.locator('#users td', { hasText: 'olivia' }).first().waitFor();
  await shot(page, '10-users');

  step = 'audit';
  await page.locator('nav a[data-page="audit"]').click();
  await page.locator('#audit td', { hasText: 'key revoke' }).first().waitFor();
  await page.locator('#audit td', { hasText: 'user create' }).first().waitFor();
  await page.locator('#audit td', { hasText: 'workflow update' }).first().waitFor();
  await page.locator('#audit td', { hasText: 'failed' }).first().waitFor();
  await shot(page, '11-audit');

  step = 'report';
  await page.locator('nav a[data-page="report"]').click();
  await page.locator('#report .stat').first().waitFor();
  const total = Number(await page.locator('#report .stat').first().textContent());
  if (!(total >= 2)) throw new Error('the report counts ' + total + ' files');
  await shot(page, '12-report');

  if (process.env.WORKER) {
    step = 'drain';
    await page.locator('nav a[data-page="dashboard"]').click();
    await page.getByRole('button', { name: `Drain ${process.env.WORKER}` }).click();
    await page.locator('#alert', { hasText: 'is draining' }).waitFor();
    await shot(page, '13-drain');
  }

  step = 'phone';
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#menu-toggle').click();
  await page.locator('nav a[data-page="history"]').click();
  await page.locator('#history tbody tr').first().waitFor();
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > 400) problems.push(`phone: the page is ${wide}px wide at 390px`);
  await shot(page, '14-phone-history');

  step = 'sign-out';
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.locator('#signout').click();
  await page.locator('#user').waitFor();
  await browser.close();
}

main().then(() => {
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log('console: every step passed');
}, (e) => {
  console.error(`console test failed at ${step}: ${e.stack || e}`);
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
