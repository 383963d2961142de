// Backfills in the browser: the form on a process's Schedule tab (prefilled
// from the schedule, a live preview from the server's dry run, the server's
// message next to the field it names), progress bars that follow the runs
// live, the runs marked as a backfill's, and Cancel.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

// A published process of one node, with a paused daily schedule at 06:00 UTC.
async function scheduledProcess(page, name, node) {
  const graph = { nodes: [{ position: { x: 40, y: 40 }, ...node }], edges: [] };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name, graph });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const published = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/versions`, { message: 'first' });
  expect(published.status).toBe(201);
  const schedule = await api(page, 'PUT', `/api/v1/tenants/demo/processes/${id}/schedule`, {
    cron: '0 6 * * *', timezone: 'UTC', enabled: false,
  });
  expect(schedule.status).toBe(201);
  return id;
}

test('an admin previews a backfill, starts it and watches every run succeed', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const id = await scheduledProcess(page, `Backfilled ${Date.now()}`, { id: 'work', component: 'noop' });
  await page.goto(`${url()}/processes/${id}`);
  await page.getByTestId('tab-schedule').click();

  const form = page.getByTestId('backfill-form');
  await expect(form.getByTestId('backfill-cron')).toHaveValue('0 6 * * *');
  await expect(form.getByTestId('backfill-timezone')).toHaveValue('UTC');
  await expect(page.getByTestId('no-backfills')).toBeVisible();
  await expect(form.getByTestId('backfill-preview')).toContainText('Choose the first and the last day');

  await form.getByTestId('backfill-start').fill('2026-10-01');
  await form.getByTestId('backfill-end').fill('2026-10-03');
  await expect(form.getByTestId('backfill-preview')).toHaveText(
    '3 runs of version 1, 2026-10-01 06:00 … 2026-10-03 06:00, UTC',
  );

  // Too many fires: the server's message, next to the field it names.
  await form.getByTestId('backfill-start').fill('2020-01-01');
  await expect(form.getByTestId('backfill-error-end')).toContainText('at most 1000 runs');
  await expect(form.getByTestId('backfill-preview')).toHaveText('Nothing to run until the problems are fixed.');
  await form.getByTestId('backfill-start').fill('2026-10-01');
  await expect(form.getByTestId('backfill-preview')).toContainText('3 runs');
  await expect(form.getByTestId('backfill-error-end')).toHaveCount(0);

  await form.getByTestId('backfill-submit').click();
  await expect(form.getByTestId('backfill-started')).toHaveText('Started a backfill of 3 runs.');
  const row = page.getByTestId('backfill-row');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('2026-10-01 00:00 … 2026-10-03 23:59');
  const bar = row.getByRole('progressbar');
  await expect(row.getByTestId('backfill-progress-label')).toHaveText('3 of 3 succeeded', { timeout: 30_000 });
  await expect(bar).toHaveAttribute('aria-valuenow', '3');
  await expect(bar).toHaveAttribute('aria-valuemax', '3');
  await expect(row).toHaveAttribute('data-state', 'done');
  await expect(row.getByTestId('state')).toHaveText('done');
  await expect(row.getByTestId('backfill-cancel')).toHaveCount(0);
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'backfills.png'), fullPage: true });

  // Its runs say they are a backfill's, each for its own fire time.
  await row.getByTestId('backfill-runs').click();
  await expect(page.getByTestId('run-row')).toHaveCount(3);
  const triggers = await page.getByTestId('run-trigger').allTextContents();
  expect(triggers.sort()).toEqual([
    'backfill · 2026-10-01 06:00:00 UTC',
    'backfill · 2026-10-02 06:00:00 UTC',
    'backfill · 2026-10-03 06:00:00 UTC',
  ]);
  await page.getByTestId('run-row').first().getByRole('link').click();
  // The run view is loaded on first visit; the list stays until it is there.
  await expect(page.getByTestId('run-title')).toBeVisible();
  await expect(page.getByTestId('run-trigger')).toContainText(/started by a backfill, for 2026-10-0[123] 06:00:00 UTC/);
  expect(errors).toEqual([]);
});

test('an editor cancels a running backfill: what has not started never does', async ({ page }) => {
  await signIn(page);
  const id = await scheduledProcess(page, `Cancelled backfill ${Date.now()}`, {
    id: 'nap', component: 'sleep', params: { seconds: 1 },
  });
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/backfills`, {
    start: '2026-09-01T00:00:00Z', end: '2026-09-30T23:59:59Z', max_active_runs: 1,
  });
  expect(started.status).toBe(201);
  await page.goto(`${url()}/processes/${id}/schedule`);
  const row = page.getByTestId('backfill-row');
  await expect(row).toHaveAttribute('data-state', 'running');
  await expect(row.getByTestId('backfill-progress-label')).toContainText('of 30 succeeded');
  await expect(row.getByTestId('backfill-progress-label')).toContainText('waiting');

  await row.getByTestId('backfill-cancel').click();
  await expect(row).toHaveAttribute('data-state', 'cancelled');
  await expect(row.getByTestId('backfill-cancel')).toHaveCount(0);
  await expect(row.getByTestId('backfill-progress-label')).toContainText('cancelled');
  await expect(row.getByTestId('backfill-progress-label')).not.toContainText('waiting');
  const stored = await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}/backfills/${started.body.id}`);
  expect(stored.body.state).toBe('cancelled');
  expect(stored.body.pending).toBe(0);
  expect(stored.body.cancelled_before_start).toBeGreaterThan(20);
});
