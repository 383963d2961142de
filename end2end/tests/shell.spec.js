// The page shell in a real browser: rendered by the server, hydrated by WASM.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const url = () => process.env.TRELLIS_URL;

test('the shell hydrates and responds to clicks', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(url());
  await expect(page.locator('header .brand')).toHaveText('Trellis');
  const nav = page.getByTestId('nav');
  for (const label of ['Processes', 'Runs', 'Schedules', 'Connections']) {
    await expect(nav.getByRole('link', { name: label })).toBeVisible();
  }
  // Administration is only offered to those who may do it.
  await expect(nav.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  await expect(page.getByTestId('version')).toHaveText(/^\d+\.\d+\.\d+/);

  // Only the hydrated page flips this and reacts to the toggle.
  const app = page.getByTestId('app');
  await expect(app).toHaveAttribute('data-hydrated', 'true');
  const toggle = page.getByTestId('theme-toggle');
  await expect(toggle).toHaveText('Dark theme');
  await toggle.click();
  await expect(app).toHaveClass(/\bdark\b/);
  await expect(toggle).toHaveText('Light theme');

  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'shell.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('the theme follows the system until the user picks one, which is remembered', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(url());
  const app = page.getByTestId('app');
  await expect(app).toHaveAttribute('data-hydrated', 'true');
  await expect(app).toHaveClass(/\bdark\b/);
  await expect(page.getByTestId('theme-toggle')).toHaveText('Light theme');
  // Picked light: it stays light after a reload, whatever the system says.
  await page.getByTestId('theme-toggle').click();
  await expect(app).not.toHaveClass(/\bdark\b/);
  await page.reload();
  await expect(app).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('theme-toggle')).toHaveText('Dark theme');
  await expect(app).not.toHaveClass(/\bdark\b/);
});

test('navigation happens in the browser without a reload', async ({ page }) => {
  await page.goto(url());
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  // A client-side route change keeps the page's state; a full reload would reset it.
  await page.evaluate(() => { window.trellisNoReload = true; });
  await page.getByTestId('theme-toggle').click();
  await page.getByTestId('nav').getByRole('link', { name: 'Schedules' }).click();
  await expect(page).toHaveURL(/\/schedules$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Schedules');
  await expect(page.getByTestId('app')).toHaveClass(/\bdark\b/);
  await expect(page.getByTestId('nav').getByRole('link', { name: 'Schedules' })).toHaveAttribute('aria-current', 'page');
  expect(await page.evaluate(() => window.trellisNoReload)).toBe(true);
});

// The bundle is split by route: a page downloads the first load (shell,
// sign-in, processes list) and, on the first visit of any other page, that
// page's own part — never the whole application.
test('the sign-in page is interactive with only the first load; other pages fetch their part when visited', async ({ page }) => {
  const fetched = [];
  page.on('request', (r) => {
    const file = new URL(r.url()).pathname;
    if (/\.(wasm|js)$/.test(file)) fetched.push(file.split('/').pop());
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${url()}/login`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  expect(fetched.filter((f) => f.startsWith('trellis.'))).toEqual(expect.arrayContaining(['trellis.js', 'trellis.wasm']));
  expect(fetched.filter((f) => /^(split_|chunk_)/.test(f))).toEqual([]);
  expect(fetched.length).toBeLessThanOrEqual(3);

  // Signing in lands on Home: its part arrives, the editor's does not.
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('e2e-password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('home')).toBeVisible();
  expect(fetched.some((f) => f.startsWith('split_home_'))).toBe(true);
  expect(fetched.some((f) => f.startsWith('split_editor_'))).toBe(false);

  // The processes list is part of the first load: nothing more to fetch.
  const before = fetched.length;
  await page.getByTestId('nav').getByRole('link', { name: 'Processes' }).click();
  await expect(page.getByTestId('process-row').first()).toBeVisible();
  expect(fetched.slice(before).filter((f) => /\.wasm$/.test(f))).toEqual([]);

  // Opening a process fetches the editor's part, once; the page works.
  await page.getByTestId('process-row').first().getByRole('link').first().click();
  await expect(page.getByTestId('palette')).toBeVisible();
  expect(fetched.filter((f) => f.startsWith('split_editor_'))).toHaveLength(1);

  // A process's other tabs share one part: the first of them fetches it,
  // the next one nothing more.
  await page.getByTestId('tab-versions').click();
  await expect(page).toHaveURL(/\/versions$/);
  await expect(page.getByTestId('tab-versions')).toHaveAttribute('aria-current', 'page');
  expect(fetched.filter((f) => f.startsWith('split_process_'))).toHaveLength(1);
  const tabs = fetched.length;
  await page.getByTestId('tab-runs').click();
  await expect(page).toHaveURL(/\/runs$/);
  await expect(page.getByTestId('tab-runs')).toHaveAttribute('aria-current', 'page');
  expect(fetched.slice(tabs).filter((f) => /\.wasm$/.test(f))).toEqual([]);
  expect(errors).toEqual([]);

  // The parts keep their names across builds: browsers must revalidate
  // them, so an upgrade never pairs an old first load with a new part.
  const wasm = await page.request.get(`${url()}/pkg/trellis.wasm`);
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()['cache-control']).toBe('no-cache');
  const again = await page.request.get(`${url()}/pkg/trellis.wasm`, {
    headers: { 'if-modified-since': wasm.headers()['last-modified'] },
  });
  expect(again.status()).toBe(304);
});
