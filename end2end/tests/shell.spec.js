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
