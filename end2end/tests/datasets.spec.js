// The Datasets page: every dataset of the tenant, one in detail from a
// shareable link — schema, preview, rejects, lineage with links to the
// processes that write and read it — and downloads of the whole dataset.
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

test('a dataset shows its schema, preview, rejects and lineage, and downloads whole', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const tag = `${Date.now()}`.slice(-8);
  const dataset = `e2e_orders_${tag}`;
  const graph = {
    nodes: [
      { id: 'load', component: 'ingest.file', params: { source: 'samples/orders.csv', dataset }, position: { x: 40, y: 40 } },
      { id: 'send', component: 'export.file', params: { dataset, destination: `e2e/${dataset}.csv` }, position: { x: 300, y: 40 } },
    ],
    edges: [{ from: 'load', to: 'send' }],
  };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name: `Lineage ${tag}`, graph });
  expect(created.status).toBe(201);
  const process = created.body.id;
  expect((await api(page, 'POST', `/api/v1/tenants/demo/processes/${process}/versions`, {})).status).toBe(201);
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${process}/runs`, {});
  expect(started.status).toBe(201);
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/runs/${started.body.id}`)).body.state,
    { timeout: 30_000 }).toBe('succeeded');

  await page.getByTestId('nav').getByRole('link', { name: 'Datasets' }).click();
  const row = page.locator(`[data-testid="dataset-row"][data-name="${dataset}"]`);
  await expect(row).toBeVisible();
  await row.getByTestId('dataset-open').click();
  await expect(page).toHaveURL(new RegExp(`/datasets\\?name=${dataset}$`));
  const detail = page.getByTestId('dataset-detail');
  await expect(detail.getByRole('heading', { name: dataset })).toBeVisible();
  await expect(page.getByTestId('dataset-facts')).toContainText('40 rows');
  await expect(page.getByTestId('dataset-schema')).toContainText('amount');
  await expect(page.getByTestId('dataset-schema')).toContainText('number');
  await expect(page.getByTestId('dataset-preview').locator('tbody tr')).toHaveCount(40);
  await expect(page.getByTestId('dataset-rejects')).toContainText('has 3 fields, expected 5');
  // Lineage: this process writes it (node load) and reads it (node send).
  await expect(page.getByTestId('lineage-writer')).toHaveCount(1);
  await expect(page.getByTestId('lineage-writer')).toContainText(`Lineage ${tag} v1 · load`);
  await expect(page.getByTestId('lineage-reader')).toContainText(`Lineage ${tag} v1 · send`);
  await page.screenshot({ path: shot('datasets.png'), fullPage: true });

  // The whole dataset, as CSV.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('download-csv').click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${dataset}.csv`);
  const text = fs.readFileSync(await download.path(), 'utf8');
  expect(text.split('\n')[0]).toBe('order_id,customer_id,ordered_on,status,amount');
  expect(text.trim().split('\n')).toHaveLength(41);

  // A shared link opens the same detail; the writer links to its process.
  await page.goto(`${url()}/datasets?name=${dataset}`);
  await expect(page.getByTestId('dataset-facts')).toContainText('40 rows');
  await page.getByTestId('lineage-writer').click();
  await expect(page).toHaveURL(new RegExp(`/processes/${process}$`));
  expect(errors).toEqual([]);
});
