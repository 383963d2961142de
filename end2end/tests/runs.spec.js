// The tenant's runs across processes: filters kept in the address (reload
// or share the link, the same list comes back), live updates, a chart of
// runs per day, and stopping several runs at once.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

async function published(page, name, node) {
  const graph = { nodes: [{ position: { x: 40, y: 40 }, ...node }], edges: [] };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name, graph });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const version = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/versions`, { message: 'first' });
  expect(version.status).toBe(201);
  return id;
}

async function run(page, id) {
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/runs`, {});
  expect(started.status).toBe(201);
  return started.body.id;
}

async function ended(page, runId) {
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/runs/${runId}`)).body.state,
    { timeout: 20_000 }).toMatch(/succeeded|failed|cancelled/);
}

test('an editor filters the runs of every process, shares the list and stops two runs at once', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const tag = `${Date.now()}`;
  const orders = await published(page, `Orders ${tag}`, { id: 'load', component: 'noop' });
  const billing = await published(page, `Billing ${tag}`, { id: 'nap', component: 'sleep', params: { seconds: 60 } });
  for (const id of [await run(page, orders), await run(page, orders)]) await ended(page, id);
  const slow = [await run(page, billing), await run(page, billing)];

  // From the navigation; a search for this test's processes.
  await page.getByTestId('nav').getByRole('link', { name: 'Runs' }).click();
  await expect(page).toHaveURL(/\/runs$/);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('filter-q').fill(tag);
  await page.getByTestId('filter-q').press('Enter');
  await expect(page).toHaveURL(new RegExp(`[?&]q=${tag}`));
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(4);
  await expect(rows.first().getByTestId('run-process')).toHaveText(`Billing ${tag}`);
  await expect(rows.first().getByTestId('run-trigger')).toHaveText('manual · admin');
  await expect(page.getByTestId('runs-chart')).toBeVisible();

  // Only the running ones; the address holds both filters.
  await page.getByTestId('filter-state-running').check();
  await expect(page).toHaveURL(/state=running/);
  await expect(rows).toHaveCount(2);
  const shared = page.url();

  // The link gives the same list in a fresh page.
  await page.goto(shared);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('filter-state-running')).toBeChecked();
  await expect(page.getByTestId('filter-q')).toHaveValue(tag);
  await expect(rows).toHaveCount(2);
  for (const r of slow) await expect(page.locator(`[data-run="${r}"]`)).toHaveCount(1);

  // A run started elsewhere appears live.
  const third = await run(page, billing);
  await expect(page.locator(`[data-run="${third}"]`)).toHaveCount(1, { timeout: 10_000 });
  await expect(rows).toHaveCount(3);

  // Stop two at once: they leave the running list as they end.
  const stopButton = page.getByTestId('stop-selected');
  await expect(stopButton).toBeDisabled();
  for (const r of slow) await page.locator(`[data-run="${r}"]`).getByTestId('select-run').check();
  await expect(stopButton).toHaveText('Stop 2 runs');
  await stopButton.click();
  await expect(rows).toHaveCount(1, { timeout: 20_000 });
  await expect(page.locator(`[data-run="${third}"]`)).toHaveCount(1);

  // The stopped ones, under their own filter.
  await page.getByTestId('filter-state-running').uncheck();
  await page.getByTestId('filter-state-cancelled').check();
  await expect(page).toHaveURL(/state=cancelled/);
  await expect(rows).toHaveCount(2);
  for (const r of slow) {
    await expect(page.locator(`[data-run="${r}"]`)).toHaveAttribute('data-state', 'cancelled');
  }
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'runs.png'), fullPage: true });

  // One process only.
  await page.getByTestId('filter-state-cancelled').uncheck();
  await page.getByTestId('filter-process').selectOption({ label: `Orders ${tag}` });
  await expect(page).toHaveURL(new RegExp(`process=${orders}`));
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId('run-duration').first()).toHaveText(/\d+(\.\d)? m?s/);

  const stop = await api(page, 'POST', `/api/v1/tenants/demo/runs/${third}/stop?mode=force`);
  expect(stop.status).toBe(202);
  expect(errors).toEqual([]);
});
