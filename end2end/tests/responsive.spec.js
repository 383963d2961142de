// Pages that work for everyone: a phone-sized screen (375 px) with the
// navigation behind a menu and nothing wider than the screen, the editor
// as view-and-run there; the keyboard shortcut overlay; toasts.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

const PHONE = { width: 375, height: 740 };

async function hydrated(page) {
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('loading')).toHaveCount(0, { timeout: 15_000 });
}

// Nothing on the page is wider than the screen (tables scroll inside).
async function fitsTheScreen(page, where) {
  // (On a phone the browser zooms out to fit a page wider than the screen,
  // so the screen's width is the limit, not the window's.)
  const { width, widest } = await page.evaluate((limit) => {
    // The outermost elements reaching past the screen's edge, to say what to fix.
    const past = [...document.querySelectorAll('body *')].filter((el) => {
      const box = el.getBoundingClientRect();
      return box.right > limit + 1
        && !(el.parentElement && el.parentElement.getBoundingClientRect().right > limit + 1);
    });
    const name = (el) => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : '')
      + (el.dataset.testid ? `[${el.dataset.testid}]` : '');
    return { width: document.documentElement.scrollWidth, widest: past.slice(0, 5).map(name) };
  }, PHONE.width);
  expect(width, `${where} is ${width} px wide: ${widest.join(', ')}`).toBeLessThanOrEqual(PHONE.width);
}

test('on a phone the navigation is a menu and every page fits the screen', async ({ browser }) => {
  test.setTimeout(120_000);
  const context = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true });
  const page = await context.newPage();
  // Signing in lands on Home, with the navigation behind the menu.
  await page.goto(`${url()}/login`);
  await hydrated(page);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('e2e-password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('home')).toBeVisible();
  const nav = page.getByTestId('nav');
  const toggle = page.getByTestId('menu-toggle');
  await expect(toggle).toBeVisible();
  await expect(nav).toBeHidden();
  await fitsTheScreen(page, 'Home');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  // The menu opens, a link navigates and closes it.
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(nav.getByRole('link', { name: 'Runs' })).toBeVisible();
  await expect(page.getByTestId('user')).toBeVisible();
  await page.screenshot({ path: shot('phone-menu.png') });
  await nav.getByRole('link', { name: 'Runs' }).click();
  await expect(page).toHaveURL(/\/runs$/);
  await expect(nav).toBeHidden();
  await toggle.click();
  await nav.getByRole('link', { name: 'Processes' }).click();
  await expect(page.getByTestId('process-list')).toBeVisible();
  await page.screenshot({ path: shot('phone-processes.png'), fullPage: true });

  const processes = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const daily = processes.body.find((p) => p.name === 'Daily revenue by country');
  const wide = [];
  for (const where of ['/', '/processes', '/runs', '/schedules', '/datasets', '/files', '/connections',
    '/alerts', '/members', '/audit', '/admin', '/profile', '/templates', '/import',
    `/processes/${daily.id}/versions`, `/processes/${daily.id}/copy`]) {
    await page.goto(`${url()}${where}`);
    await hydrated(page);
    try { await fitsTheScreen(page, where); } catch (e) { wide.push(e.message.split('\n')[0]); }
  }
  expect(wide).toEqual([]);
  await page.goto(`${url()}/`);
  await hydrated(page);
  await page.screenshot({ path: shot('phone-home.png'), fullPage: true });

  // The editor is view-and-run: no palette or toolbar, the canvas and the run form.
  await page.goto(`${url()}/processes/${daily.id}`);
  await hydrated(page);
  await expect(page.getByTestId('canvas')).toBeVisible();
  await expect(page.getByTestId('phone-hint')).toBeVisible();
  await expect(page.getByRole('toolbar', { name: 'Editing' })).toBeHidden();
  await fitsTheScreen(page, 'the editor');
  await page.screenshot({ path: shot('phone-editor.png'), fullPage: true });
  await page.getByTestId('run-now').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
  await hydrated(page);
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', /succeeded|failed/, { timeout: 20_000 });
  await fitsTheScreen(page, 'the run view');
  await page.screenshot({ path: shot('phone-run.png'), fullPage: true });
  await context.close();
});

test('on a wide screen the navigation is in line and the editor edits', async ({ page }) => {
  await signIn(page);
  await expect(page.getByTestId('menu-toggle')).toBeHidden();
  await expect(page.getByTestId('nav')).toBeVisible();
  const processes = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const daily = processes.body.find((p) => p.name === 'Daily revenue by country');
  await page.goto(`${url()}/processes/${daily.id}`);
  await hydrated(page);
  await expect(page.getByRole('toolbar', { name: 'Editing' })).toBeVisible();
  await expect(page.getByTestId('phone-hint')).toBeHidden();
  // Nodes and the palette show each component's category colour and icon.
  await expect(page.getByTestId('node-ingest_orders').locator('.node-band')).toHaveClass(/cat-ingest/);
  await expect(page.getByTestId('node-check_orders').locator('.node-band')).toHaveClass(/cat-quality/);
  await expect(page.getByTestId('node-revenue').locator('.node-band')).toHaveClass(/cat-transform/);
  const download = await page.getByTestId('node-ingest_orders').locator('.node-icon').getAttribute('d');
  const shield = await page.getByTestId('node-check_orders').locator('.node-icon').getAttribute('d');
  expect(download).not.toEqual(shield);
  await expect(page.getByTestId('palette-ingest.file').locator('path')).toHaveAttribute('d', download);
  await page.screenshot({ path: shot('editor-marks.png') });
});

test('? shows the keyboard shortcuts, Escape hides them, and typing ? in a field does not', async ({ page }) => {
  await signIn(page);
  const overlay = page.getByTestId('shortcuts');
  await page.keyboard.press('?');
  await expect(overlay).toBeVisible();
  await expect(overlay.getByRole('heading', { name: 'Keyboard shortcuts' })).toBeVisible();
  await expect(overlay).toContainText('Undo');
  await expect(page.getByTestId('shortcuts-close')).toBeFocused();
  await page.screenshot({ path: shot('shortcuts.png') });
  await page.keyboard.press('Escape');
  await expect(overlay).toBeHidden();

  // In a text field `?` is text.
  await page.goto(`${url()}/import`);
  await hydrated(page);
  const name = page.getByTestId('import-name');
  await name.fill('');
  await name.press('?');
  await expect(name).toHaveValue('?');
  await expect(overlay).toBeHidden();
  // The footer's button opens it too; Close closes it.
  await page.getByTestId('shortcuts-open').click();
  await expect(overlay).toBeVisible();
  await page.getByTestId('shortcuts-close').click();
  await expect(overlay).toBeHidden();
});

test('an action that worked says so in a toast, which goes away by itself', async ({ page }) => {
  await signIn(page);
  const processes = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const daily = processes.body.find((p) => p.name === 'Daily revenue by country');
  await page.goto(`${url()}/processes/${daily.id}/copy`);
  await hydrated(page);
  await page.getByTestId('copy-name').fill(`Toast copy ${Date.now()}`);
  await page.getByTestId('copy-submit').click();
  await expect(page.getByTestId('editor')).toBeVisible();
  const toast = page.getByTestId('toast');
  await expect(toast).toHaveCount(1);
  await expect(toast).toContainText('Duplicated as');
  await expect(toast).toHaveAttribute('data-tone', 'success');
  await expect(page.getByTestId('toasts')).toHaveAttribute('aria-live', 'polite');
  await expect(toast).toHaveCount(0, { timeout: 8_000 });
});
