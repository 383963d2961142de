// Process parameters in the browser: declared in the editor's Parameters
// panel, referenced from a node's value, given in the run form (the
// server's message next to the input when a value does not fit), and shown
// in the run view as what exactly ran; then Retry and Run again on a failed
// run.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

async function newProcess(page, name) {
  await page.goto(`${url()}/processes`);
  await page.getByTestId('new-process-name').fill(name);
  await page.getByTestId('create-process-button').click();
  await expect(page.getByTestId('editor')).toBeVisible();
}

// Types into a field and leaves it, as a person finishing an edit would.
async function enter(locator, value) {
  await locator.fill(value);
  await locator.press('Tab');
}

test('a declared parameter reaches a node, is checked by the server in the run form and shows in the run', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  await newProcess(page, `E2E parameters ${Date.now()}`);
  await page.getByTestId('palette-sleep').click();
  await expect(page.getByTestId('node-sleep_1')).toBeVisible();

  // Declare it; a bad name is named next to the field and in the problems.
  const panel = page.getByTestId('parameters');
  await panel.getByTestId('add-param').click();
  await expect(panel.getByTestId('decl-name-0')).toHaveValue('param_1');
  await enter(panel.getByTestId('decl-name-0'), 'Wait!');
  await expect(panel.getByTestId('field-error')).toContainText('must be a lowercase letter');
  await expect(page.getByTestId('problems')).toContainText('Parameters: parameter name `Wait!`');
  await enter(panel.getByTestId('decl-name-0'), 'wait');
  await panel.getByTestId('decl-type-0').selectOption('number');
  await enter(panel.getByTestId('decl-default-0'), '1');
  await panel.getByTestId('decl-required-0').check();
  await enter(panel.getByTestId('decl-description-0'), 'How long the sleep lasts, in seconds');
  await expect(panel.getByTestId('field-error')).toHaveCount(0);

  // A number field takes a reference; one to nothing declared is flagged.
  await page.getByTestId('node-sleep_1').click();
  const node = page.getByTestId('node-panel');
  await node.getByTestId('ref-seconds').selectOption('params.wait');
  await expect(node.getByTestId('param-seconds')).toHaveValue('{{ params.wait }}');
  await enter(node.getByTestId('param-seconds'), '{{ params.nope }}');
  await expect(node.getByTestId('field-error')).toContainText('declares no parameter `nope`');
  await expect(page.getByTestId('publish')).toBeDisabled();
  await enter(node.getByTestId('param-seconds'), '{{ params.wait }}');
  await expect(page.getByTestId('problems')).toHaveText('No problems.');

  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  await page.getByTestId('publish-message').fill('waits as long as a run says');
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-status')).toHaveText('Published version 1');

  // The run form is made from the declaration: default filled in, required marked.
  const field = page.getByTestId('run-field-wait');
  await expect(field).toContainText('wait *');
  await expect(field).toContainText('How long the sleep lasts');
  await expect(page.getByTestId('run-param-wait')).toHaveValue('1');
  await page.screenshot({ path: shot('parameters.png'), fullPage: true });

  // A value the node cannot take: the server's message, next to the input.
  await page.getByTestId('run-param-wait').fill('100000');
  await page.getByTestId('run-now').click();
  await expect(field.getByTestId('field-error')).toContainText('`Seconds` must be at most 86400');
  await expect(page).toHaveURL(/\/processes\//);

  await page.getByTestId('run-param-wait').fill('0');
  await page.getByTestId('run-now').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 20_000 });
  await expect(page.getByTestId('resolved-param-wait')).toHaveText('0');
  await expect(page.getByTestId('logical-date')).toHaveText(/^\d{4}-\d\d-\d\d$/);
  await page.getByTestId('node-sleep_1').click();
  await expect(page.getByTestId('resolved-value-seconds')).toHaveText('0');
  const runId = page.url().split('/runs/')[1];
  const stored = await api(page, 'GET', `/api/v1/tenants/demo/runs/${runId}`);
  expect(stored.body.resolved.nodes.sleep_1.seconds).toBe(0);

  // "Run this version" on the Versions tab opens the same form.
  await page.getByRole('link', { name: 'version 1' }).click();
  await page.getByTestId('tab-versions').click();
  await page.getByTestId('version-row').first().getByTestId('run-version').click();
  const form = page.getByTestId('version-run-form');
  await expect(form.getByTestId('run-param-wait')).toHaveValue('1');
  await form.getByTestId('run-param-wait').fill('0');
  await form.getByTestId('run-now').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
  await expect(page.getByTestId('resolved-param-wait')).toHaveText('0');
  expect(errors).toEqual([]);
});

test('an editor retries a failed run: only its failed part runs again; Run again starts a linked run', async ({ page }) => {
  await signIn(page);
  const list = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const strict = list.body.find((p) => p.name === 'Customer contacts (strict check)');
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${strict.id}/runs`, {});
  expect(started.status).toBe(201);
  await page.goto(`${url()}/runs/${started.body.id}`);
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'failed', { timeout: 20_000 });
  await expect(page.getByTestId('node-ingest_customers')).toHaveAttribute('data-state', 'succeeded');
  await expect(page.getByTestId('node-check_contacts')).toHaveAttribute('data-state', 'failed');
  await page.getByTestId('node-check_contacts').click();
  await expect(page.getByTestId('retry-from-here')).toBeVisible();
  await expect(page.getByTestId('attempt-W_check_contacts')).toHaveText('1');

  await page.getByTestId('retry').click();
  await expect(page.getByTestId('run-retries')).toContainText('Retried once');
  // The check fails again (the sample data has not changed); what succeeded stays.
  await expect(page.getByTestId('attempt-W_check_contacts')).toHaveText('2', { timeout: 20_000 });
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'failed', { timeout: 20_000 });
  await expect(page.getByTestId('node-ingest_customers')).toHaveAttribute('data-state', 'succeeded');
  await page.getByTestId('node-ingest_customers').click();
  await expect(page.getByTestId('attempt-W_ingest_customers')).toHaveText('1');

  await page.getByTestId('run-again').click();
  await expect(page).not.toHaveURL(new RegExp(started.body.id));
  await expect(page.getByTestId('rerun-of')).toContainText(`run ${started.body.id.slice(-8)}`);
});

test('the editor says when a component changed in the catalog since the latest version', async ({ page }) => {
  await signIn(page);
  const key = `e2e.nap${Date.now()}`;
  const component = { key, name: `Nap ${key}`, category: 'Testing', params: [], local: { program: 'true', args: [] } };
  expect((await api(page, 'POST', '/api/v1/admin/components', component)).status).toBe(201);
  const graph = { nodes: [{ id: 'nap', component: key, position: { x: 40, y: 40 } }], edges: [] };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name: `E2E frozen ${Date.now()}`, graph });
  expect(created.status).toBe(201);
  const process = `/api/v1/tenants/demo/processes/${created.body.id}`;
  expect((await api(page, 'POST', `${process}/versions`, {})).status).toBe(201);

  await page.goto(`${url()}/processes/${created.body.id}`);
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(page.getByTestId('catalog-changes')).toHaveCount(0);

  const changed = { ...component, retries: 2 };
  expect((await api(page, 'PUT', `/api/v1/admin/components/${key}`, changed)).status).toBe(200);
  await page.reload();
  await expect(page.getByTestId('catalog-changes')).toContainText(`Nap ${key}`);
  await expect(page.getByTestId('catalog-changes')).toContainText('since version 1');
  // Publishing picks it up on purpose: a new version, and the notice goes.
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-panel')).toContainText('Published version 2');
  await expect(page.getByTestId('catalog-changes')).toHaveCount(0);
});
