// The run view tells the story: a summary of what failed (with the error's
// first line) and what was written while no node is selected, a timeline
// by the nodes as drawn (submit and work as two segments of a row), and
// links to a node and to a line of its log.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

test('a failed run shows its summary, its timeline by node, and links to a node and a log line', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const tag = `${Date.now()}`.slice(-8);
  const graph = {
    nodes: [
      { id: 'load', label: 'Load orders', component: 'ingest.file',
        params: { source: 'samples/orders.csv', dataset: `story_${tag}` }, position: { x: 40, y: 40 } },
      { id: 'boom', label: 'Explode on purpose', component: 'fail',
        params: { message: 'the warehouse is closed' }, position: { x: 300, y: 40 } },
    ],
    edges: [{ from: 'load', to: 'boom' }],
  };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name: `Story ${tag}`, graph });
  expect(created.status).toBe(201);
  expect((await api(page, 'POST', `/api/v1/tenants/demo/processes/${created.body.id}/versions`, {})).status).toBe(201);
  const run = await api(page, 'POST', `/api/v1/tenants/demo/processes/${created.body.id}/runs`, {});
  expect(run.status).toBe(201);
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/runs/${run.body.id}`)).body.state,
    { timeout: 30_000 }).toBe('failed');

  await page.goto(`${url()}/runs/${run.body.id}`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  const summary = page.getByTestId('run-summary');
  const failure = summary.locator('[data-testid="summary-failure"][data-node="boom"]');
  await expect(failure).toContainText('Explode on purpose');
  await expect(failure).toContainText('the warehouse is closed');
  await expect(summary.getByTestId('summary-dataset')).toHaveText(`story_${tag}`);
  await expect(summary.getByTestId('summary-dataset')).toHaveAttribute('href', `/datasets?name=story_${tag}`);

  // The timeline: one row per node, labelled as drawn, two segments each.
  await expect(page.locator('[data-testid="timeline-row"][data-node="load"]')).toContainText('Load orders');
  const boomRow = page.locator('[data-testid="timeline-row"][data-node="boom"]');
  await expect(boomRow).toContainText('Explode on purpose');
  await expect(boomRow.getByTestId('bar-C_boom')).toHaveCount(1);
  await expect(boomRow.getByTestId('bar-W_boom')).toHaveCount(1);
  await expect(page.locator('[data-testid="timeline-row"][data-node="PEntry"]')).toContainText('Run starts');
  await page.screenshot({ path: shot('run-summary.png'), fullPage: true });

  // The failure links to its node; the address says which.
  await failure.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/runs/${run.body.id}\\?node=boom$`));
  await expect(page.getByTestId('task-panel-title')).toContainText('Explode on purpose');
  await expect(page.getByTestId('run-summary')).toHaveCount(0);
  const log = page.getByTestId('task-log');
  await expect(log).toContainText('the warehouse is closed');

  // A log line links to itself; the link opens the run on it, marked.
  const numbered = log.getByTestId('log-line').filter({ hasText: 'the warehouse is closed' }).first();
  await numbered.locator('a.line-no').click();
  await expect(page).toHaveURL(/\?node=boom&line=\d+$/);
  const address = page.url();
  await page.goto(address);
  await expect(page.getByTestId('log-line-marked')).toContainText('the warehouse is closed');
  await expect(page.getByTestId('log-line-marked')).toBeInViewport();

  // Back to the summary.
  await page.getByTestId('show-summary').click();
  await expect(page.getByTestId('run-summary')).toBeVisible();
  expect(errors).toEqual([]);
});
