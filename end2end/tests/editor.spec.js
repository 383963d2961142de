// Composing, publishing and running a process in the browser, with real
// pointer drags on the canvas and live run status over server-sent events.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

async function center(locator) {
  const box = await locator.boundingBox();
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

// Drags with the mouse button held down, in small steps, as a person would.
async function drag(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps: 12 });
  await page.mouse.up();
}

async function dropComponent(page, key, dx, dy) {
  const canvas = await page.getByTestId('canvas').boundingBox();
  await drag(page, await center(page.getByTestId(`palette-${key}`)), { x: canvas.x + dx, y: canvas.y + dy });
}

async function connect(page, from, to) {
  await drag(page, await center(page.getByTestId(`port-out-${from}`)), await center(page.getByTestId(`node-${to}`)));
}

async function setParam(page, node, name, value) {
  await page.getByTestId(`node-${node}`).click();
  const field = page.getByTestId('node-panel').getByTestId(`param-${name}`);
  await field.fill(value);
  await field.press('Tab');
}

async function newProcess(page, name) {
  await page.goto(`${url()}/processes`);
  await page.getByTestId('new-process-name').fill(name);
  await page.getByTestId('create-process-button').click();
  await expect(page.getByTestId('editor')).toBeVisible();
}

async function publishAndRun(page) {
  await expect(page.getByTestId('problems')).toHaveText('No problems.');
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  await page.getByTestId('publish-message').fill('from the browser');
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-status')).toHaveText(/^Published version \d+$/);
  await page.getByTestId('run-now').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]+$/);
}

test('compose by drag and drop, publish, run and watch it succeed live', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  await expect(page.getByTestId('process-list')).toContainText('Daily revenue by country');

  await newProcess(page, 'E2E orders');
  await dropComponent(page, 'ingest.file', 140, 120);
  await dropComponent(page, 'quality.check', 420, 120);
  await dropComponent(page, 'export.file', 420, 320);
  for (const id of ['ingest_file_1', 'quality_check_1', 'export_file_1']) {
    await expect(page.getByTestId(`node-${id}`)).toBeVisible();
  }
  // New nodes have required parameters missing: the canvas says so at once.
  await expect(page.getByTestId('problems')).toContainText('ingest_file_1');
  await expect(page.getByTestId('publish')).toBeDisabled();

  await connect(page, 'ingest_file_1', 'quality_check_1');
  await connect(page, 'quality_check_1', 'export_file_1');
  await expect(page.getByTestId('edge-ingest_file_1-quality_check_1')).toHaveCount(1);
  await expect(page.getByTestId('edge-quality_check_1-export_file_1')).toHaveCount(1);

  // Closing a loop is refused at the drop, with the path it would make.
  await connect(page, 'export_file_1', 'ingest_file_1');
  await expect(page.getByTestId('notice')).toContainText('would create a cycle');
  await expect(page.getByTestId('edge-export_file_1-ingest_file_1')).toHaveCount(0);

  // Moving a node by dragging it, then undoing the move with the keyboard.
  const node = page.getByTestId('node-export_file_1');
  const before = await node.boundingBox();
  await drag(page, await center(node), { x: before.x + before.width / 2 + 60, y: before.y + before.height / 2 + 40 });
  await expect.poll(async () => (await node.boundingBox()).x).toBeGreaterThan(before.x + 40);
  await page.getByTestId('canvas').focus();
  await page.keyboard.press('Control+z');
  await expect.poll(async () => Math.round((await node.boundingBox()).x)).toBe(Math.round(before.x));

  // Nodes can be reached and selected with the keyboard; the minimap shows the graph.
  await page.getByTestId('node-ingest_file_1').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('node-panel')).toContainText('Ingest file');
  await expect(page.getByTestId('minimap')).toBeVisible();

  await setParam(page, 'ingest_file_1', 'source', 'samples/orders.csv');
  await setParam(page, 'ingest_file_1', 'dataset', 'e2e_orders');
  await setParam(page, 'quality_check_1', 'dataset', 'e2e_orders');
  await setParam(page, 'quality_check_1', 'rules', "unique(order_id)\nallowed_values(status, 'new', 'paid', 'shipped', 'cancelled', 'lost')");
  await setParam(page, 'quality_check_1', 'threshold', '5%');
  await setParam(page, 'export_file_1', 'dataset', 'e2e_orders');
  await setParam(page, 'export_file_1', 'destination', 'e2e/orders.csv');
  await page.screenshot({ path: shot('editor.png'), fullPage: true });

  await publishAndRun(page);
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 20_000 });
  for (const id of ['ingest_file_1', 'quality_check_1', 'export_file_1']) {
    await expect(page.getByTestId(`node-${id}`)).toHaveAttribute('data-state', 'succeeded');
  }
  await page.getByTestId('node-quality_check_1').click();
  await expect(page.getByTestId('task-log')).toContainText('all 2 rules passed');
  await expect(page.getByTestId('state-history')).toContainText(/W_quality_check_1: queued .* → running .* → succeeded/);
  await page.getByTestId('node-ingest_file_1').click();
  await expect(page.getByTestId('dataset-preview')).toContainText('1001');
  await page.getByTestId('node-quality_check_1').click();
  await expect(page.getByTestId('timeline')).toBeVisible();
  await expect(page.getByTestId('bar-W_quality_check_1')).toHaveCount(1);
  await page.screenshot({ path: shot('run.png'), fullPage: true });

  // A second version, and what changed between the two drawn on the canvas.
  await page.getByRole('link', { name: 'version 1' }).click();
  await expect(page.getByTestId('editor')).toBeVisible();
  await page.getByTestId('node-export_file_1').click();
  await page.getByTestId('node-panel').getByTestId('param-format').selectOption('jsonl');
  await dropComponent(page, 'noop', 150, 300);
  await connect(page, 'export_file_1', 'noop_1');
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  await page.getByTestId('publish-message').fill('export JSON Lines');
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-status')).toHaveText('Published version 2');

  await page.getByTestId('tab-versions').click();
  await expect(page.getByTestId('version-row')).toHaveCount(2);
  await expect(page.getByTestId('version-row').first()).toContainText('export JSON Lines');
  await page.getByTestId('compare').click();
  await expect(page.getByTestId('diff-summary')).toHaveText('1 added, 0 removed, 1 changed; 1 connections added, 0 removed');
  const diff = page.getByTestId('diff');
  await expect(diff.getByTestId('node-export_file_1')).toHaveAttribute('data-state', 'changed');
  await expect(diff.getByTestId('node-noop_1')).toHaveAttribute('data-state', 'added');
  await expect(diff.getByTestId('node-ingest_file_1')).toHaveAttribute('data-state', 'same');
  await expect(page.getByTestId('param-changes')).toContainText('export_file_1: format (not set) → jsonl');
  await page.screenshot({ path: shot('diff.png'), fullPage: true });

  await page.getByTestId('tab-runs').click();
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  await page.getByTestId('filter-state').selectOption('failed');
  await expect(page.getByTestId('no-runs')).toBeVisible();
  await page.getByTestId('filter-state').selectOption('succeeded');
  await expect(page.getByTestId('run-row')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test('a running process can be stopped from its run view', async ({ page }) => {
  await signIn(page);
  await newProcess(page, 'E2E sleeper');
  await dropComponent(page, 'sleep', 200, 150);
  await setParam(page, 'sleep_1', 'seconds', '60');
  await publishAndRun(page);
  await expect(page.getByTestId('node-sleep_1')).toHaveAttribute('data-state', 'running', { timeout: 10_000 });
  await page.getByTestId('stop').click();
  await page.getByTestId('confirm-stop').click();
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'cancelled', { timeout: 20_000 });
  await expect(page.getByTestId('node-sleep_1')).toHaveAttribute('data-state', 'cancelled');
});

test('nodes can be added, connected and removed from the keyboard', async ({ page }) => {
  await signIn(page);
  await newProcess(page, 'E2E keyboard');
  await page.getByTestId('palette-noop').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('palette-sleep').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('node-noop_1')).toBeVisible();
  await expect(page.getByTestId('node-sleep_1')).toBeVisible();
  await page.getByTestId('node-noop_1').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('connect-to').selectOption('sleep_1');
  await expect(page.getByTestId('edge-noop_1-sleep_1')).toHaveCount(1);
  // The way back would close a loop.
  await page.getByTestId('node-sleep_1').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('connect-to').selectOption('noop_1');
  await expect(page.getByTestId('notice')).toContainText('would create a cycle');
  await page.getByTestId('node-sleep_1').focus();
  await page.keyboard.press('Delete');
  await expect(page.getByTestId('node-sleep_1')).toHaveCount(0);
  await expect(page.getByTestId('edge-noop_1-sleep_1')).toHaveCount(0);
  await page.keyboard.press('Control+z');
  await expect(page.getByTestId('node-sleep_1')).toBeVisible();
  await expect(page.getByTestId('edge-noop_1-sleep_1')).toHaveCount(1);
  await page.keyboard.press('Control+Shift+z');
  await expect(page.getByTestId('node-sleep_1')).toHaveCount(0);
});

test('a draft changed elsewhere is a clear conflict that loses nothing', async ({ page }) => {
  await signIn(page);
  await newProcess(page, 'E2E conflict');
  await dropComponent(page, 'noop', 200, 150);
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  // Someone else saves the draft meanwhile (same API, another writer).
  const id = page.url().split('/').pop();
  await page.evaluate(async (id) => {
    const path = `/api/v1/tenants/demo/processes/${id}`;
    const p = await (await fetch(path)).json();
    const r = await fetch(path, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        'x-csrf-token': document.cookie.match(/trellis_csrf=([^;]+)/)[1],
      },
      body: JSON.stringify({ revision: p.revision, name: 'E2E conflict (renamed elsewhere)' }),
    });
    if (r.status !== 200) throw new Error(`PUT answered ${r.status}`);
  }, id);
  await dropComponent(page, 'noop', 420, 150);
  await expect(page.getByTestId('save-state')).toContainText('Not saved');
  await expect(page.getByTestId('save-state')).toContainText('Your changes are still here');
  await expect(page.getByTestId('node-noop_2')).toBeVisible();
  await page.getByTestId('overwrite').click();
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  const nodes = await page.evaluate(async (id) => {
    const p = await (await fetch(`/api/v1/tenants/demo/processes/${id}`)).json();
    return p.graph.nodes.map((n) => n.id);
  }, id);
  expect(nodes).toEqual(['noop_1', 'noop_2']);
});

test('a wrong password is refused with a message', async ({ page }) => {
  await page.goto(`${url()}/login`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('nope');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-error')).toBeVisible();
  await expect(page).toHaveURL(/\/login$/);
});
