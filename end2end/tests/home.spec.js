// Home, where signing in lands: a run that failed (its node and the first
// line of its error) until marked seen, a run in progress with its
// progress, the next scheduled fire, the processes edited last — live.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, api } = require('../helpers');

async function published(page, name, node) {
  const graph = { nodes: [{ position: { x: 40, y: 40 }, ...node }], edges: [] };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name, graph });
  expect(created.status).toBe(201);
  const version = await api(page, 'POST', `/api/v1/tenants/demo/processes/${created.body.id}/versions`, {});
  expect(version.status).toBe(201);
  return created.body.id;
}

async function run(page, id) {
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/runs`, {});
  expect(started.status).toBe(201);
  return started.body.id;
}

test('home shows what failed, what runs, what fires next and what was edited, live', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const tag = `${Date.now()}`;
  const broken = await published(page, `Broken load ${tag}`, {
    id: 'load_orders', component: 'ingest.file', params: { source: `samples/missing-${tag}.csv`, dataset: `missing_${tag}` },
  });
  const slow = await published(page, `Slow ${tag}`, { id: 'nap', component: 'sleep', params: { seconds: 60 } });
  const minute = (new Date().getUTCMinutes() + 3) % 60;
  const schedule = await api(page, 'PUT', `/api/v1/tenants/demo/processes/${slow}/schedule`, {
    cron: `${minute} * * * *`, timezone: 'UTC', enabled: true,
  });
  expect(schedule.status).toBe(201);
  const failed = await run(page, broken);
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/runs/${failed}`)).body.state,
    { timeout: 20_000 }).toBe('failed');
  const running = await run(page, slow);

  await page.locator('a.brand').click();
  await expect(page).toHaveURL(/:\d+\/$/);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  const failure = page.locator(`[data-testid="home-failed-run"][data-run="${failed}"]`);
  await expect(failure).toContainText(`Broken load ${tag}`);
  await expect(failure.getByTestId('home-failed-node')).toHaveText('load_orders');
  await expect(failure.getByTestId('home-failed-error')).not.toBeEmpty();
  const progress = page.locator(`[data-testid="home-running-run"][data-run="${running}"]`);
  await expect(progress).toContainText(`Slow ${tag}`);
  await expect(progress.getByRole('progressbar')).toHaveAttribute('aria-valuemax', '4');
  await expect(page.getByTestId('home-next')).toContainText(`Slow ${tag}`);
  await expect(page.getByTestId('home-recent')).toContainText(`Slow ${tag}`);
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'home.png'), fullPage: true });

  // Seen: the failure leaves; a new one arrives live.
  await page.getByTestId('home-mark-seen').click();

  await expect(failure).toHaveCount(0);
  const again = await run(page, broken);
  await expect(page.locator(`[data-testid="home-failed-run"][data-run="${again}"]`)).toBeVisible({ timeout: 20_000 });

  // A run's page names it as people do: its process and its number there.
  await page.locator(`[data-testid="home-failed-run"][data-run="${again}"]`).getByRole('link').click();
  await expect(page.getByTestId('run-title')).toHaveText(`Broken load ${tag} #2`);
  await expect(page.getByTestId('run-started')).toContainText('started ');
  await expect(page.getByTestId('run-duration')).toHaveText(/\d+(\.\d)? m?s/);
  await page.goBack();

  // The run stopped: it leaves "Running now" by itself.
  expect((await api(page, 'POST', `/api/v1/tenants/demo/runs/${running}/stop?mode=force`)).status).toBe(202);
  await expect(progress).toHaveCount(0, { timeout: 20_000 });
  expect((await api(page, 'DELETE', `/api/v1/tenants/demo/processes/${slow}/schedule`)).status).toBe(204);
  expect(errors).toEqual([]);
});
