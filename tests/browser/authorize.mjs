// Headless Chromium through the gateway's authorization endpoint, as a person would do it:
// open the authorize link, fill in the login form, click "Sign in", look at the consent screen,
// click "Allow", and land on the app's redirect URI.
//
//   node tests/browser/authorize.mjs <authorize-url> <user> <password> <screenshot-dir>
//
// Prints the final URL (the redirect URI with code, state and iss) as the last line of stdout;
// progress and anything the browser complains about go to stderr. Screenshots of the login
// page, the consent page and (on failure) the page where it stopped go to <screenshot-dir>.
// Uses Debian's Chromium (`apt-get install chromium`), or CRMGATE_TEST_CHROMIUM if set;
// playwright-core never downloads a browser of its own.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [authorizeUrl, user, password, shots] = process.argv.slice(2);
if (!authorizeUrl || !user || !password || !shots) {
  console.error('usage: node authorize.mjs <authorize-url> <user> <password> <screenshot-dir>');
  process.exit(2);
}
const redirectUri = new URL(authorizeUrl).searchParams.get('redirect_uri');
if (!redirectUri) {
  console.error(`the authorize URL has no redirect_uri: ${authorizeUrl}`);
  process.exit(2);
}
const executablePath = process.env.CRMGATE_TEST_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30_000;

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'crmgate-chromium-'));
const problems = [];
let context;
let page;

function fail(message) {
  throw new Error(message);
}

try {
  // launchPersistentContext passes `--user-data-dir=<profile>` itself (playwright refuses it in
  // `args`): a fresh, empty profile per run.
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    locale: 'en-US',
    viewport: { width: 800, height: 720 },
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
    if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  page.on('requestfailed', (r) => {
    problems.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    // The browser's own favicon probe is not part of the pages.
    if (new URL(r.url()).pathname === '/favicon.ico') return;
    if (r.status() >= 400) {
      problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
    }
  });

  // 1. The authorize link shows the login form.
  const first = await page.goto(authorizeUrl);
  if (first?.status() !== 200) fail(`the authorize link answered ${first?.status()}`);
  await page.locator('input[name=username]').fill(user);
  await page.locator('input[name=password]').fill(password);
  await page.screenshot({ path: join(shots, 'login.png'), fullPage: true });
  console.error(`login page: ${await page.title()}`);

  // 2. Sign in: the consent screen, naming the user who signed in.
  await page.getByRole('button', { name: 'Sign in' }).click();
  const allow = page.locator('button[name=decision][value=allow]');
  await allow.waitFor({ state: 'visible' });
  const who = (await page.locator('.who strong').textContent())?.trim();
  if (who !== user) fail(`the consent screen says signed in as ${who}, not ${user}`);
  // Everything the page needs (its stylesheet) has loaded before the picture is taken.
  await page.waitForLoadState('load');
  const styled = await page.evaluate(() => getComputedStyle(document.body).display);
  if (styled !== 'flex') problems.push(`the consent page is unstyled (body display: ${styled})`);
  await page.screenshot({ path: join(shots, 'consent.png'), fullPage: true });
  console.error(`consent page: ${await page.title()}`);

  // 3. Allow: the gateway redirects (303) to the app, which is where the browser ends up.
  await Promise.all([
    page.waitForURL((u) => u.href.startsWith(redirectUri), { waitUntil: 'load' }),
    allow.click(),
  ]);
  const body = (await page.locator('body').textContent())?.trim();
  console.error(`redirect URI page: ${body}`);
  if (problems.length) fail(`the browser reported problems:\n  ${problems.join('\n  ')}`);
  console.log(page.url());
} catch (e) {
  console.error(`FAILED: ${e.stack || e}`);
  for (const p of problems) console.error(`  ${p}`);
  if (page) {
    console.error(`stopped at ${page.url()}`);
    await page
      .screenshot({ path: join(shots, 'failure.png'), fullPage: true })
      .catch(() => {});
    console.error(await page.content().catch(() => ''));
  }
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
