// Drives the web console in headless Chromium for ConsoleBrowserIT. Usage:
//   node console-scenarios.mjs two-pages|resolve   (settings in environment variables, see below)
// BASE_URL: the server's HTTP port; TOKEN: a bearer token; SCOPE: the scope to watch; CHROMIUM: the browser;
// PLAYWRIGHT: the package.json of the installed playwright-core; two-pages: ENTITY (id to create and edit);
// resolve: ENTITY (the conflicted entity), CLIENT_TEXT, SERVER_TEXT (the two sides), SCREENSHOT (optional path).
// Prints "ok <scenario>" and exits 0 when every step happened; anything else is a failure with the reason.
import { createRequire } from 'node:module';

const require = createRequire(process.env.PLAYWRIGHT);
const { chromium } = require('playwright-core');
const env = (name) => {
  if (!process.env[name]) {
    throw new Error('missing environment variable ' + name);
  }
  return process.env[name];
};
const WAIT = { timeout: 60_000 };

async function signedInPage(browser) {
  // A context per page: each has its own sessionStorage, as two browsers would.
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(env('BASE_URL') + '/console/');
  await page.fill('#token', env('TOKEN'));
  await page.click('#sign-in-button');
  await page.waitForSelector('#console:not([hidden])', WAIT);
  await page.fill('#scope', env('SCOPE'));
  await page.click('#watch-button');
  await page.waitForFunction(() => document.getElementById('watch-state').textContent === 'live', null, WAIT);
  return page;
}

function row(page, entityId) {
  return page.locator(`#entities tr[data-entity-id="${entityId}"]`);
}

async function seesData(page, entityId, text, version) {
  await page.waitForFunction(([id, wanted, v]) => {
    const tr = document.querySelector(`#entities tr[data-entity-id="${id}"]`);
    return tr && tr.cells[3].textContent.includes(wanted) && tr.cells[2].textContent === String(v);
  }, [entityId, text, version], WAIT);
}

async function edit(page, entityId, data) {
  await row(page, entityId).locator('button.edit').click();
  await page.fill('#editor-data', JSON.stringify(data));
  await page.click('#editor-save');
  await page.waitForSelector('#editor:not([open])', { state: 'attached', ...WAIT });
}

async function twoPages(browser) {
  const entity = env('ENTITY');
  const a = await signedInPage(browser);
  const b = await signedInPage(browser);
  await a.fill('#create-type', 'note');
  await a.fill('#create-id', entity);
  await a.fill('#create-data', JSON.stringify({ title: 'from page A' }));
  await a.click('#create-form button[type=submit]');
  await seesData(a, entity, 'from page A', 1);
  await seesData(b, entity, 'from page A', 1);
  await edit(b, entity, { title: 'edited on page B' });
  await seesData(b, entity, 'edited on page B', 2);
  await seesData(a, entity, 'edited on page B', 2);
  await edit(a, entity, { title: 'edited on page A' });
  await seesData(a, entity, 'edited on page A', 3);
  await seesData(b, entity, 'edited on page A', 3);
}

async function resolve(browser) {
  const entity = env('ENTITY');
  const page = await signedInPage(browser);
  const conflict = page.locator(`.conflict[data-entity-id="${entity}"]`);
  await conflict.waitFor(WAIT);
  const client = await conflict.locator('.client-data').textContent();
  const server = await conflict.locator('.server-data').textContent();
  if (!client.includes(env('CLIENT_TEXT')) || !server.includes(env('SERVER_TEXT'))) {
    throw new Error('the conflict shows client ' + client + ' and server ' + server);
  }
  await page.waitForFunction(() => document.querySelectorAll('#metrics tr').length > 0, null, WAIT);
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  }
  await conflict.locator('button.take-client').click();
  await conflict.waitFor({ state: 'detached', ...WAIT });
  await seesData(page, entity, env('CLIENT_TEXT'), 3);
}

const scenario = process.argv[2];
const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  // Root (as in CI) cannot use Chromium's sandbox.
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  if (scenario === 'two-pages') {
    await twoPages(browser);
  } else if (scenario === 'resolve') {
    await resolve(browser);
  } else {
    throw new Error('unknown scenario: ' + scenario);
  }
  console.log('ok ' + scenario);
} catch (e) {
  console.error('FAILED ' + scenario + ': ' + (e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
