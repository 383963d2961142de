// Schedules in the browser: the editor's live preview, saving with field
// errors, runs the schedule starts in run history, the Schedules page and its
// enabled toggle, read-only views for members who are not tenant admins, and
// the run parameters as typed inputs made from the version's declarations.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');

async function publishedProcess(page, name, params = []) {
  const graph = { nodes: [{ id: 'work', component: 'noop', position: { x: 40, y: 40 } }], edges: [], params };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name, graph });
  expect(created.status).toBe(201);
  const published = await api(page, 'POST', `/api/v1/tenants/demo/processes/${created.body.id}/versions`, { message: 'first' });
  expect(published.status).toBe(201);
  return created.body.id;
}

test('a tenant admin schedules a process with a live preview, and its runs show up as scheduled', async ({ page }) => {
  await signIn(page);
  const name = `Scheduled ${Date.now()}`;
  const id = await publishedProcess(page, name);
  await page.goto(`${url()}/processes/${id}`);
  await page.getByTestId('tab-schedule').click();
  await expect(page.getByTestId('schedule-none')).toBeVisible();
  await expect(page.getByTestId('schedule-no-params')).toHaveText('This process takes no parameters');

  // The preview follows the expression as it is typed.
  await page.getByTestId('schedule-cron').fill('30 2 * * *');
  await page.getByTestId('schedule-timezone').fill('America/New_York');
  await expect(page.getByTestId('preview-words')).toContainText('02:30');
  await expect(page.getByTestId('preview-fire')).toHaveCount(5);
  await expect(page.getByTestId('preview-fire').first()).toContainText(/02:30:00-0[45]:00/);
  await page.getByTestId('schedule-cron').fill('61 * * * *');
  await expect(page.getByTestId('preview-error')).toContainText('field 1 (minute) `61`');

  // Saving a wrong field names it, and keeps what was typed.
  await page.getByTestId('schedule-timezone').fill('Mars/Olympus');
  await page.getByTestId('schedule-save').click();
  await expect(page.getByTestId('error-timezone')).toContainText('not an IANA time zone');
  await expect(page.getByTestId('error-cron')).toContainText('field 1 (minute)');
  await expect(page.getByTestId('schedule-timezone')).toHaveValue('Mars/Olympus');

  // Every second, so runs come at once.
  await page.getByTestId('schedule-cron').fill('* * * * * *');
  await page.getByTestId('schedule-timezone').fill('Europe/Berlin');
  await page.getByTestId('schedule-save').click();
  await expect(page.getByTestId('schedule-saved')).toHaveText('Saved.');
  await expect(page.getByTestId('schedule-state')).toContainText('Enabled');
  await expect(page.getByTestId('preview-fire')).toHaveCount(5);
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'schedule-editor.png'), fullPage: true });

  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/runs`)).body.length).toBeGreaterThan(0);
  await page.getByTestId('tab-runs').click();
  await expect(page.getByTestId('run-trigger').first()).toContainText(/schedule · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  await page.getByTestId('run-row').first().getByRole('link').click();
  await expect(page.getByTestId('run-trigger')).toContainText(/started by its schedule, for \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
  await page.goBack();

  // The Schedules page lists it; the toggle pauses it.
  await page.getByTestId('nav').getByRole('link', { name: 'Schedules' }).click();
  const row = page.getByTestId('schedule-row').filter({ hasText: name });
  await expect(row.getByTestId('schedule-words')).toContainText('second');
  await expect(row.getByTestId('schedule-next')).toContainText(/\d{4}-\d\d-\d\d/);
  await expect(row.getByTestId('state')).toBeVisible();
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'schedules.png'), fullPage: true });
  await row.getByTestId('schedule-enabled').uncheck();
  await expect(row.getByTestId('schedule-next')).toHaveText('paused');
  const stored = await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/schedule`);
  expect(stored.body.enabled).toBe(false);
  expect(stored.body.timezone).toBe('Europe/Berlin');

  // Paused: no new runs.
  const before = (await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/runs?limit=200`)).body.length;
  await page.waitForTimeout(2000);
  const after = (await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/runs?limit=200`)).body.length;
  expect(after).toBe(before);
});

test('editors see schedules read-only and cannot change them', async ({ browser, page }) => {
  const admin = await browser.newPage();
  await signIn(admin);
  const name = `Read-only schedule ${Date.now()}`;
  const id = await publishedProcess(admin, name, [{ name: 'country', type: 'string', default: 'de' }]);
  const set = await api(admin, 'PUT', `/api/v1/tenants/demo/processes/${id}/schedule`, {
    cron: '0 6 * * 1-5', timezone: 'Europe/Berlin', enabled: false,
  });
  expect(set.status).toBe(201);
  await api(admin, 'POST', '/api/v1/admin/users', { username: 'sam', password: 'sam-password-1' });
  await api(admin, 'PUT', '/api/v1/tenants/demo/members/sam', { role: 'editor' });
  await admin.close();

  await signInAs(page, 'sam', 'sam-password-1');
  await page.goto(`${url()}/processes/${id}/schedule`);
  await expect(page.getByTestId('schedule-read-only')).toBeVisible();
  await expect(page.getByTestId('schedule-cron')).toHaveValue('0 6 * * 1-5');
  await expect(page.getByTestId('schedule-cron')).toBeDisabled();
  await expect(page.getByTestId('schedule-save')).toHaveCount(0);
  await expect(page.getByTestId('schedule-param-country')).toHaveValue('de');
  await expect(page.getByTestId('schedule-param-country')).toBeDisabled();
  await expect(page.getByTestId('preview-words')).toContainText('06:00');

  await page.goto(`${url()}/schedules`);
  const row = page.getByTestId('schedule-row').filter({ hasText: name });
  await expect(row.getByTestId('schedule-enabled')).toBeDisabled();
  expect((await api(page, 'PUT', `/api/v1/tenants/demo/processes/${id}/schedule`, { cron: '* * * * *', timezone: 'UTC' })).status).toBe(403);
  expect((await api(page, 'DELETE', `/api/v1/tenants/demo/processes/${id}/schedule`)).status).toBe(403);
});

test('a declared parameter is a typed input on the Schedule tab, with the server\'s message next to it', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const id = await publishedProcess(page, `Scheduled with parameters ${Date.now()}`, [
    { name: 'min_orders', type: 'integer', default: 10, required: true, description: 'Fewest orders a country needs' },
    { name: 'region', type: 'enum', values: ['eu', 'us'] },
  ]);
  await page.goto(`${url()}/processes/${id}/schedule`);
  const form = page.getByTestId('schedule-form');
  const field = form.getByTestId('schedule-field-min_orders');
  const minOrders = form.getByTestId('schedule-param-min_orders');
  const region = form.getByTestId('schedule-param-region');

  // Made from version 1's declarations: default filled in, required marked.
  await expect(minOrders).toHaveValue('10');
  await expect(minOrders).toHaveAttribute('type', 'number');
  await expect(field).toContainText('min_orders *');
  await expect(field).toContainText('Fewest orders a country needs');
  await expect(region).toHaveValue('');
  await expect(form.getByTestId('schedule-field-region')).not.toContainText('*');
  await expect(form.getByTestId('schedule-no-params')).toHaveCount(0);

  // No integer: the server refuses it by name, next to its input; nothing is stored.
  await minOrders.fill('4.5');
  await form.getByTestId('schedule-save').click();
  await expect(field.getByTestId('field-error')).toHaveText('`min_orders` must be an integer');
  await expect(minOrders).toHaveValue('4.5');
  expect((await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/schedule`)).status).toBe(404);

  await minOrders.fill('25');
  await region.selectOption('eu');
  await form.getByTestId('schedule-save').click();
  await expect(form.getByTestId('schedule-saved')).toHaveText('Saved.');
  await expect(field.getByTestId('field-error')).toHaveCount(0);
  const stored = await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/schedule`);
  expect(stored.body.params).toEqual({ min_orders: 25, region: 'eu' });
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'schedule-params.png'), fullPage: true });

  // The stored values come back into the inputs; one set back to its default
  // is not stored, so it follows the default of the version that runs.
  await page.reload();
  await expect(minOrders).toHaveValue('25');
  await expect(region).toHaveValue('eu');
  await minOrders.fill('10');
  await form.getByTestId('schedule-save').click();
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/schedule`)).body.params)
    .toEqual({ region: 'eu' });
  await expect(minOrders).toHaveValue('10');
  expect(errors).toEqual([]);
});
