// The screenshots of the README's tour of the admin page (docs/screenshots/), taken on a fresh
// `crmgate demo`:
//
//   cargo run -- demo &
//   node tests/browser/readme-screenshots.mjs '<"Portale clienti" authorize link>' docs/screenshots
//
// Signs in as admin / admin-demo and as aldo / aldo-demo (the demo's users). It changes the
// demo: it creates a signed-JWT service account "Magazzino" (its assertion example goes to
// stdout as JSON, to try the curl line within its 5 minutes), aldo allows "Portale clienti" and
// the code is traded for tokens as the demo app's page says. Pictures are 1280x800 viewports
// (the account page: its full height), PNG. Uses Debian's Chromium, or CRMGATE_TEST_CHROMIUM.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [authorizeUrl, out] = process.argv.slice(2);
if (!authorizeUrl || !out) {
  console.error('usage: node readme-screenshots.mjs <authorize-url> <output-dir>');
  process.exit(2);
}
const base = new URL(authorizeUrl).origin;
const executablePath = process.env.CRMGATE_TEST_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 20_000;

mkdirSync(out, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'crmgate-shots-'));
const problems = [];
let context;
let page;

function fail(message) {
  throw new Error(message);
}

async function shot(name, { fullPage = false } = {}) {
  await page.waitForFunction(() => document.fonts.status === 'loaded', null, { timeout: TIMEOUT });
  // No caret or focus ring blinking into the pictures.
  await page.evaluate(() => document.activeElement?.blur?.());
  const path = join(out, `${name}.png`);
  await page.screenshot({ path, fullPage });
  console.error(`saved ${path}`);
}

/** Scrolls so that `locator` is at the top of the viewport (minus `margin` pixels). */
async function scrollTo(locator, margin = 16) {
  const box = await locator.boundingBox();
  if (!box) fail('nothing to scroll to');
  await page.evaluate((y) => window.scrollBy(0, y), box.y - margin);
}

async function signIn(path, user, password) {
  await page.goto(new URL(path, base).href);
  await page.locator('#login-username').fill(user);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-form').getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-view="list"]').waitFor({ state: 'visible' });
}

/** Waits until the status notice is gone, so it is not in the next picture. */
async function quiet() {
  await page.locator('#status').waitFor({ state: 'hidden', timeout: 10_000 });
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    locale: 'en-US',
    viewport: { width: 1280, height: 800 },
    timeout: TIMEOUT,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(TIMEOUT);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url || '';
    if (/\/(favicon\.ico|gateway\/api\/session)$/.test(at)) return;
    problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));

  // 1. The consent screen: aldo allows "Portale clienti" (so the account page has it).
  await page.goto(authorizeUrl);
  await page.locator('input[name=username]').fill('aldo');
  await page.locator('input[name=password]').fill('aldo-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const allow = page.locator('button[name=decision][value=allow]');
  await allow.waitFor({ state: 'visible' });
  await shot('consent');
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/oauth2/')), allow.click()]);
  // The demo app's page shows the curl line that trades the code; do what it says, so that the
  // grant holds tokens (the account page lists authorizations with live tokens).
  const pre = page.locator('pre').filter({ hasText: 'grant_type=authorization_code' });
  const curl = (await pre.textContent()) || '';
  const [, client, secret] = curl.match(/-u ([^:\s]+):(\S+)/) || fail(`no -u in ${curl}`);
  const form = new URLSearchParams();
  for (const [, key, value] of curl.matchAll(/-d ([a-z_]+)=(\S+)/g)) form.set(key, value);
  const tokenUrl = curl.trim().split(/\s+/).pop();
  const basic = Buffer.from(`${client}:${secret}`).toString('base64');
  const answer = await fetch(tokenUrl, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}` },
    body: form,
    signal: AbortSignal.timeout(TIMEOUT),
  });
  if (answer.status !== 200) fail(`the exchange answered ${answer.status}: ${await answer.text()}`);
  console.error('aldo authorized Portale clienti; the code was traded for tokens');

  // 2. The admin page: settings and the applications.
  await signIn('/gateway/admin/', 'admin', 'admin-demo');
  await page.locator('#apps-body tr').first().waitFor();
  await shot('admin-list');

  // 3. The wizard, service account with a signed JWT.
  await page.locator('#add-app').click();
  await page.locator('#f-client-type').selectOption('service_account');
  await page.locator('#f-secret-type').selectOption('signed_jwt');
  await page.locator('#f-key-alg').selectOption('ES256');
  await page.locator('#f-name').fill('Magazzino');
  await page.locator('#f-scope').selectOption('rest.all');
  await page.locator('#f-user').selectOption('bruna');
  await shot('wizard-service-account');

  // 4. Saved: the private key and the assertion example, shown once.
  await page.locator('#app-form .head-buttons').getByRole('button', { name: 'Save' }).click();
  await page.locator('[data-view="result"]').waitFor({ state: 'visible' });
  const example = await page.evaluate(() =>
    [...document.querySelectorAll('#result-body .copy-field')].map((f) => [
      f.querySelector('label').textContent,
      f.querySelector('input, textarea').value,
    ]),
  );
  console.log(JSON.stringify(Object.fromEntries(example), null, 2));
  await shot('result-signed-jwt');
  await scrollTo(page.locator('#result-body h3').nth(1));
  await shot('result-assertion-example');
  await page.locator('#result-done').click();
  await page.locator('[data-view="list"]').waitFor({ state: 'visible' });
  await quiet().catch(() => {});

  // 5. The wizard, web application: redirect URIs, offline access, who may use it.
  await page.locator('#add-app').click();
  await page.locator('#f-client-type').selectOption('web');
  await page.locator('#f-app-type').selectOption('web_app');
  await page.locator('#f-scope').selectOption('rest.all.read');
  await page.locator('#f-offline').check();
  await page
    .locator('#f-redirects')
    .fill('https://intranet.example/oauth/callback\nhttp://127.0.0.1:8000/callback');
  await page.locator('#f-selected-users').check();
  await page.locator('#f-groups').getByLabel('sales').check();
  await page.locator('#f-users').getByLabel('carla').check();
  await page.locator('#f-name').fill('Intranet');
  await page.locator('#f-description').fill('Clienti e fatture nella intranet aziendale');
  await scrollTo(page.locator('#f-scope'), 48);
  await shot('wizard-web-app');
  await page.locator('#app-form .head-buttons').getByRole('button', { name: 'Cancel' }).click();
  await page.locator('[data-view="list"]').waitFor({ state: 'visible' });

  // 6. Editing an app: the same form, types read-only.
  const row = page.locator('#apps-body tr').filter({ hasText: 'Portale clienti' });
  await row.getByRole('button', { name: 'Edit Portale clienti' }).click();
  await page.locator('[data-view="editor"]').waitFor({ state: 'visible' });
  await shot('edit-app');
  await page.locator('#app-form .head-buttons').getByRole('button', { name: 'Cancel' }).click();

  // 7. The account page, as aldo.
  await page.locator('#logout').click();
  await page.locator('[data-view="login"]').waitFor({ state: 'visible' });
  await signIn('/gateway/account/', 'aldo', 'aldo-demo');
  await page.locator('#authorized-list li').first().waitFor();
  // Both sections: the page is taller than the viewport.
  await shot('account', { fullPage: true });

  if (problems.length) fail(`the browser reported problems:\n  ${problems.join('\n  ')}`);
} catch (e) {
  console.error(`FAILED: ${e.stack || e}`);
  for (const p of problems) console.error(`  ${p}`);
  const failure = { path: join(out, 'failure.png'), timeout: 5_000 };
  if (page) await page.screenshot(failure).catch(() => {});
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
