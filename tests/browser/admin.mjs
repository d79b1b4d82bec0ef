// Headless Chromium on the gateway's admin page (/gateway/admin/) and "Connected applications"
// page (/gateway/account/), clicking what a person clicks. Run by tests/admin_browser.rs, which
// checks from outside (over HTTP) what each click did:
//
//   node tests/browser/admin.mjs admin   <base-url> <screenshot-dir> <admin-user> <password>
//   node tests/browser/admin.mjs account <base-url> <screenshot-dir> <user> <password> <app-name>
//
// `admin`: sign in, create a service account (client secret) in the wizard and read its
// credentials from the result panel, switch the app off and on, revoke all its tokens, delete it
// (the confirmation cancelled once, then confirmed). `account`: sign in, find <app-name> under
// "Authorized by you", revoke its access (confirmed), sign out.
//
// Step protocol: after each state the test must check, stdout gets one line
// `step <name> <json>` and the script waits (bounded) for one line on stdin: `ok` to go on,
// anything else (or EOF) stops it with a failure. The last stdout line is `done`.
//
// Fails on any console error, page error, failed request, HTTP error answer or CSP violation,
// except the 401 of GET /gateway/api/session while signed out (how a page finds out that it
// has no session) and the browser's /favicon.ico probe. Every wait is bounded. Screenshots of
// each page and state go to <screenshot-dir> (and failure.png where it stopped). Uses Debian's
// Chromium (`apt-get install chromium`), or CRMGATE_TEST_CHROMIUM; playwright-core never
// downloads a browser of its own.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [scenario, base, shots, user, password, appName] = process.argv.slice(2);
const usage =
  'usage: node admin.mjs admin <base-url> <screenshot-dir> <user> <password>\n' +
  '       node admin.mjs account <base-url> <screenshot-dir> <user> <password> <app-name>';
if (!['admin', 'account'].includes(scenario) || !base || !shots || !user || !password) {
  console.error(usage);
  process.exit(2);
}
if (scenario === 'account' && !appName) {
  console.error(usage);
  process.exit(2);
}
const executablePath = process.env.CRMGATE_TEST_CHROMIUM || '/usr/bin/chromium';
/** Any one wait of the browser. */
const TIMEOUT = 20_000;
/** How long the test may take to check a step. */
const STEP_TIMEOUT = 90_000;
/** The name of the service account the admin scenario creates. */
const NEW_APP = 'Browser robot';

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'crmgate-admin-'));
const problems = [];
/** True between a successful sign-in and the sign-out: a 401 on the session probe is a problem. */
let signedIn = false;
let context;
let page;

function fail(message) {
  throw new Error(message);
}

const started = Date.now();
function log(message) {
  const at = ((Date.now() - started) / 1000).toFixed(2);
  console.error(`[${scenario} ${at}s] ${message}`);
}

// --- The step protocol -----------------------------------------------------------------------

const stdinLines = [];
const stdinWaiters = [];
let stdinClosed = false;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const waiter = stdinWaiters.shift();
  if (waiter) waiter(line);
  else stdinLines.push(line);
});
rl.on('close', () => {
  stdinClosed = true;
  for (const waiter of stdinWaiters.splice(0)) waiter(null);
});

function nextLine(ms) {
  if (stdinLines.length) return Promise.resolve(stdinLines.shift());
  if (stdinClosed) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      const i = stdinWaiters.indexOf(done);
      if (i >= 0) stdinWaiters.splice(i, 1);
      resolve(undefined);
    }, ms);
    function done(line) {
      clearTimeout(timer);
      resolve(line);
    }
    stdinWaiters.push(done);
  });
}

/** Tells the test that state `name` is reached and waits until it has checked it. */
async function step(name, data = {}) {
  checkProblems(name);
  console.log(`step ${name} ${JSON.stringify(data)}`);
  log(`step ${name}: waiting for the test`);
  const answer = await nextLine(STEP_TIMEOUT);
  if (answer === undefined) fail(`the test did not answer step ${name} within ${STEP_TIMEOUT} ms`);
  if (answer === null) fail(`the test closed stdin at step ${name}`);
  if (answer.trim() !== 'ok') fail(`the test stopped at step ${name}: ${answer}`);
  log(`step ${name}: checked`);
}

// --- What the browser reports ----------------------------------------------------------------

function isSessionProbe(url) {
  return new URL(url).pathname === '/gateway/api/session';
}

function isFavicon(url) {
  return new URL(url).pathname === '/favicon.ico';
}

function watch(p) {
  p.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const at = m.location()?.url || '';
    // Chromium logs every HTTP error answer of a fetch as "Failed to load resource"; the
    // answers themselves are checked below.
    if (/^Failed to load resource: the server responded with a status of \d+/.test(text) && at) {
      if (isFavicon(at) || isSessionProbe(at)) return;
    }
    problems.push(`console error on ${p.url()}: ${text}${at ? ` (${at})` : ''}`);
  });
  p.on('pageerror', (e) => problems.push(`page error on ${p.url()}: ${e.message}`));
  p.on('requestfailed', (r) => {
    problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  p.on('response', (r) => {
    const url = r.url();
    if (isFavicon(url)) return;
    if (r.status() === 401 && isSessionProbe(url) && r.request().method() === 'GET' && !signedIn) {
      return;
    }
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${url}`);
  });
}

function checkProblems(where) {
  if (!problems.length) return;
  fail(`the browser reported problems (at ${where}):\n  ${problems.join('\n  ')}`);
}

/**
 * A CSP violation is reported: an inline <style> the pages' policy refuses must show up as a
 * problem, so that no report later means no violation. The canary's reports are then dropped.
 */
async function cspCanary() {
  const before = problems.length;
  await page.evaluate(() => {
    const style = document.createElement('style');
    style.id = 'crmgate-csp-canary';
    style.textContent = 'body { outline: 1px solid red; }';
    document.head.append(style);
  });
  const reported = () => problems.slice(before).some((p) => p.includes('CSP violation: style-src'));
  const deadline = Date.now() + TIMEOUT;
  while (!reported()) {
    if (Date.now() > deadline) fail('an inline <style> raised no CSP violation report');
    await page.waitForTimeout(50);
  }
  await page.evaluate(() => document.getElementById('crmgate-csp-canary')?.remove());
  const seen = problems.splice(before);
  log(`CSP canary reported:\n  ${seen.join('\n  ')}`);
  problems.push(...seen.filter((p) => !p.includes('style-src')));
}

// --- Page helpers -----------------------------------------------------------------------------

async function shot(name, options = {}) {
  // Fonts and the stylesheets are in before the picture is taken.
  await page.waitForFunction(() => document.fonts.status === 'loaded', null, { timeout: TIMEOUT });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true, ...options });
}

/** Opens `path` and checks the answer: 200, the pages' CSP, styled. */
async function open(path) {
  const answer = await page.goto(new URL(path, base).href, { waitUntil: 'load' });
  if (answer?.status() !== 200) fail(`${path} answered ${answer?.status()}`);
  const csp = answer.headers()['content-security-policy'] || '';
  for (const part of ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"]) {
    if (!csp.includes(part)) fail(`${path}: the Content-Security-Policy lacks ${part}: ${csp}`);
  }
  const display = await page.evaluate(() => getComputedStyle(document.body).display);
  if (display !== 'block') fail(`${path} is unstyled (body display: ${display})`);
}

async function signIn(who, secret) {
  await page.locator('[data-view="login"]').waitFor({ state: 'visible' });
  await page.locator('#login-username').fill(who);
  await page.locator('#login-password').fill(secret);
  await page.locator('#login-form').getByRole('button', { name: 'Sign in' }).click();
  signedIn = true;
  await page.locator('[data-view="list"]').waitFor({ state: 'visible' });
  await page.locator('#session-nav').waitFor({ state: 'visible' });
  const shown = (await page.locator('#session-user').textContent())?.trim() || '';
  if (!shown.includes(`(${who})`) && shown !== who) fail(`signed in as "${shown}", not ${who}`);
}

async function signOut() {
  await page.locator('#logout').click();
  await page.locator('[data-view="login"]').waitFor({ state: 'visible' });
  signedIn = false;
  if (await page.locator('#session-nav').isVisible()) fail('"Signed in as" is still shown');
}

/** Waits until the polite status area says something containing `text`. */
async function status(text) {
  await page.locator('#status').filter({ hasText: text }).waitFor({ state: 'visible' });
}

/** The confirmation dialog: checks its title, takes a picture, clicks OK or Cancel. */
async function confirm(title, { ok, picture = null }) {
  const dialog = page.locator('#confirm-dialog');
  await dialog.waitFor({ state: 'visible' });
  const shown = (await page.locator('#confirm-title').textContent())?.trim();
  if (shown !== title) fail(`the dialog says "${shown}", expected "${title}"`);
  const focused = await page.evaluate(() => document.activeElement?.id);
  if (focused !== 'confirm-cancel') fail(`the dialog opened with focus on #${focused}, not Cancel`);
  // The viewport only: a full-page picture stretches the viewport past the modal's backdrop.
  if (picture) await shot(picture, { fullPage: false });
  await page.locator(ok ? '#confirm-ok' : '#confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
}

// --- Scenarios --------------------------------------------------------------------------------

function appRow(clientId) {
  return page.locator('#apps-body tr').filter({ hasText: clientId });
}

async function rowCount(expected) {
  const n = await page.locator('#apps-body tr').count();
  if (n !== expected) fail(`the table has ${n} rows, not ${expected}`);
}

async function adminScenario() {
  // The page without a session: the login form.
  await open('/gateway/admin/');
  await cspCanary();
  await shot('admin-login');
  await signIn(user, password);
  const rows = page.locator('#apps-body tr');
  await rows.first().waitFor({ state: 'visible' });
  const before = await rows.count();
  const setting = page.locator('#set-oauth_enabled');
  if (!(await setting.isChecked())) fail('"Enable OAuth2 access" is shown off');
  await shot('admin-list');
  await step('signed-in', { apps: before });

  // The wizard: a service account with a client secret, bound to aldo, read-only.
  await page.locator('#add-app').click();
  await page.locator('[data-view="editor"]').waitFor({ state: 'visible' });
  const title = (await page.locator('#editor-title').textContent())?.trim();
  if (title !== 'Create application') fail(`the editor is titled "${title}"`);
  await page.locator('#f-client-type').selectOption('service_account');
  await page.locator('#f-secret-type').selectOption('client_secret');
  await page.locator('#f-name').fill(NEW_APP);
  await page.locator('#f-scope').selectOption('rest.all.read');
  await page.locator('#f-user').selectOption('aldo');
  const flow = (await page.locator('#flow').textContent())?.trim();
  if (flow !== 'Client Credentials') fail(`the wizard names the flow "${flow}"`);
  if (await page.locator('#f-redirects').isVisible()) fail('a service account asks for URIs');
  await shot('wizard-service-account');
  await page.locator('#app-form .head-buttons').getByRole('button', { name: 'Save' }).click();

  // The credentials, shown once.
  const result = page.locator('[data-view="result"]');
  await result.waitFor({ state: 'visible' });
  const heading = (await page.locator('#result-title').textContent())?.trim();
  if (heading !== 'Application created') fail(`the result panel is titled "${heading}"`);
  const clientId = await result.getByLabel('Client ID', { exact: true }).inputValue();
  const secret = await result.getByLabel('Client secret', { exact: true }).inputValue();
  if (!/^vte_[0-9a-f]{20}$/.test(clientId)) fail(`the new client ID is ${clientId}`);
  if (secret.length < 32) fail(`the new secret is only ${secret.length} characters`);
  if (!(await result.locator('.warning').isVisible())) fail('no "shown only once" warning');
  await shot('result-secret');
  await step('created', { client_id: clientId, client_secret: secret, name: NEW_APP });

  // Back to the list: the new app, enabled, with the token the test got.
  await page.locator('#result-done').click();
  await page.locator('[data-view="list"]').waitFor({ state: 'visible' });
  if ((await page.locator('#result-body').textContent()) !== '') fail('the secret stayed');
  const row = appRow(clientId);
  await row.waitFor({ state: 'visible' });
  await row.filter({ hasText: '1 active token' }).waitFor({ state: 'visible' });
  await rowCount(before + 1);
  const toggle = row.getByRole('switch', { name: `Enabled: ${NEW_APP}` });
  if (!(await toggle.isChecked())) fail('the new app is shown disabled');

  // Off: its token stops working.
  await toggle.click();
  await status(`${NEW_APP} is disabled`);
  await page.locator('#apps-body tr.is-disabled').filter({ hasText: clientId }).waitFor();
  if (await appRow(clientId).getByRole('switch').isChecked()) fail('the switch is still on');
  await shot('app-disabled');
  await step('disabled', { client_id: clientId });

  // On again.
  await appRow(clientId).getByRole('switch').click();
  await status(`${NEW_APP} is enabled`);
  await page.locator('#apps-body tr:not(.is-disabled)').filter({ hasText: clientId }).waitFor();
  if (!(await appRow(clientId).getByRole('switch').isChecked())) fail('the switch is still off');
  await step('enabled', { client_id: clientId });

  // Revoke all tokens, confirmed.
  await appRow(clientId).getByRole('button', { name: `Revoke tokens of ${NEW_APP}` }).click();
  await confirm('Revoke all tokens?', { ok: true, picture: 'confirm-revoke' });
  await status(`${NEW_APP}: 1 token revoked.`);
  await appRow(clientId).filter({ hasText: 'No active tokens' }).waitFor({ state: 'visible' });
  await shot('app-revoked');
  await step('revoked', { client_id: clientId });

  // Delete: cancelled first (nothing happens), then confirmed.
  const del = () => appRow(clientId).getByRole('button', { name: `Delete ${NEW_APP}` });
  await del().click();
  await confirm('Delete the application?', { ok: false });
  if ((await appRow(clientId).count()) !== 1) fail('Cancel deleted the app');
  await step('delete-cancelled', { client_id: clientId });
  await del().click();
  await confirm('Delete the application?', { ok: true, picture: 'confirm-delete' });
  await status(`${NEW_APP} was deleted.`);
  await appRow(clientId).waitFor({ state: 'detached' });
  await rowCount(before);
  await shot('app-deleted');
  await step('deleted', { client_id: clientId });

  await signOut();
  await shot('admin-signed-out');
}

async function accountScenario() {
  await open('/gateway/account/');
  await cspCanary();
  await shot('account-login');
  await signIn(user, password);
  const card = page.locator('#authorized-list li').filter({ hasText: appName });
  await card.waitFor({ state: 'visible' });
  if (await page.locator('#authorized-empty').isVisible()) fail('"Authorized by you" says empty');
  if (await page.locator('#other-page').isVisible()) fail('a user (no admin) sees the admin link');
  await shot('account');
  await step('listed', { app: appName });

  await card.getByRole('button', { name: `Revoke access of ${appName}` }).click();
  await confirm('Revoke access?', { ok: true, picture: 'confirm-revoke-access' });
  await status(`${appName}: access revoked.`);
  await card.waitFor({ state: 'detached' });
  await page.locator('#authorized-empty').waitFor({ state: 'visible' });
  await shot('account-revoked');
  await step('revoked', { app: appName });

  await signOut();
}

try {
  // launchPersistentContext passes `--user-data-dir=<profile>` itself (playwright refuses it in
  // `args`): a fresh, empty profile per run.
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
  context.setDefaultNavigationTimeout(TIMEOUT);
  // Every CSP violation also becomes a console error (Chromium logs most of them by itself).
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'} ` +
          `(${e.sourceFile || ''}:${e.lineNumber}) ${e.sample || ''}`,
      );
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  context.on('page', (p) => problems.push(`an unexpected page opened: ${p.url()}`));

  if (scenario === 'admin') await adminScenario();
  else await accountScenario();
  checkProblems('the end');
  console.log('done');
} catch (e) {
  console.error(`FAILED: ${e.stack || e}`);
  for (const p of problems) console.error(`  ${p}`);
  if (page) {
    console.error(`stopped at ${page.url()}`);
    await page
      .screenshot({ path: join(shots, 'failure.png'), fullPage: true, timeout: 5_000 })
      .catch(() => {});
  }
  process.exitCode = 1;
} finally {
  rl.close();
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
