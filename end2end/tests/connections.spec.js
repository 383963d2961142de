// Tenant AWS connections in the browser, tested against the AWS emulator.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');

async function emulatorCluster() {
  const r = await fetch(`${process.env.TRELLIS_EMULATOR_URL}/trellis-emulator/emr/cluster`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ region: 'us-east-1' }),
  });
  return (await r.json()).cluster_id;
}

test('a tenant admin adds a connection, tests it, and sees what AWS says when it is wrong', async ({ page, context }) => {
  const cluster = await emulatorCluster();
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await signIn(page);
  await page.getByTestId('nav').getByRole('link', { name: 'Connections' }).click();

  // The tenant's external id, made by Trellis, in a trust policy ready to paste.
  const externalId = (await page.getByTestId('external-id').textContent()).trim();
  expect(externalId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const trust = JSON.parse(await page.getByTestId('trust-policy').textContent());
  expect(trust.Statement[0].Principal.AWS).toBe('arn:aws:iam::111111111111:role/trellis-server');
  expect(trust.Statement[0].Condition.StringEquals['sts:ExternalId']).toBe(externalId);
  await page.getByTestId('copy-trust-policy').click();
  await expect(page.getByTestId('copy-trust-policy')).toHaveText('Copied');
  expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(trust);

  await page.getByTestId('connection-new').click();
  await expect(page.getByTestId('connection-external-id')).toHaveCount(0);
  await page.getByTestId('connection-name').fill('E2E EMR');
  await page.getByTestId('connection-role').fill('arn:aws:iam::123456789012:role/trellis');
  await page.getByTestId('connection-cluster').fill(cluster);
  await page.getByTestId('connection-endpoint').fill(process.env.TRELLIS_EMULATOR_URL);
  // Static keys are not allowed on this platform.
  await page.getByTestId('connection-access-key').fill('AKIAEMULATORTESTKEY1');
  await page.getByTestId('connection-secret-key').fill('emulator-secret');
  await page.getByTestId('connection-save').click();
  await expect(page.getByTestId('connection-error')).toContainText('static AWS keys are not allowed');
  await page.getByTestId('connection-access-key').fill('');
  await page.getByTestId('connection-secret-key').fill('');
  await page.getByTestId('connection-save').click();

  const row = page.getByTestId('connection-row').filter({ hasText: 'E2E EMR' });
  await expect(row).toContainText(cluster);
  // The role's least-privilege permissions: steps on this one cluster.
  await row.getByTestId('connection-policy').locator('summary').click();
  const permissions = JSON.parse(await row.getByTestId('permissions-policy').textContent());
  expect(permissions.Statement[0].Resource).toBe(`arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/${cluster}`);
  await row.getByTestId('connection-test').click();
  await expect(page.getByTestId('connection-test-result')).toContainText('Reached cluster trellis-e2e — WAITING');
  const assumed = await (await fetch(`${process.env.TRELLIS_EMULATOR_URL}/trellis-emulator/sts/assumed`)).json();
  expect(assumed.at(-1).external_id).toBe(externalId);

  // A wrong cluster id: the test says what is wrong.
  await row.getByTestId('connection-edit').click();
  await page.getByTestId('connection-cluster').fill('j-NOSUCHCLUSTER');
  await page.getByTestId('connection-save').click();
  await expect(row).toContainText('j-NOSUCHCLUSTER');
  await row.getByTestId('connection-test').click();
  await expect(page.getByTestId('connection-test-result')).toContainText('no EMR cluster j-NOSUCHCLUSTER in us-east-1');
  await page.screenshot({ path: path.join(__dirname, '..', 'screenshots', 'connections.png'), fullPage: true });

  // Bad input names the field; nothing is lost.
  await page.getByTestId('connection-new').click();
  await page.getByTestId('connection-name').fill('Broken');
  await page.getByTestId('connection-region').fill('Europe');
  await page.getByTestId('connection-cluster').fill(cluster);
  await page.getByTestId('connection-save').click();
  await expect(page.getByTestId('connection-error')).toContainText('an AWS region such as');
  await expect(page.getByTestId('connection-name')).toHaveValue('Broken');
});

test('members who are not tenant admins see connections but cannot change or test them', async ({ browser, page }) => {
  const admin = await browser.newPage();
  await signIn(admin);
  const made = await api(admin, 'POST', '/api/v1/tenants/demo/connections', {
    name: 'Read-only view', region: 'eu-west-1', cluster_id: 'j-READONLY',
    role_arn: 'arn:aws:iam::123456789012:role/trellis',
  });
  expect([201, 409]).toContain(made.status);
  // An editor of the demo tenant.
  await api(admin, 'POST', '/api/v1/admin/users', { username: 'eric', password: 'eric-password-1' });
  await api(admin, 'PUT', '/api/v1/tenants/demo/members/eric', { role: 'editor' });
  await admin.close();

  await signInAs(page, 'eric', 'eric-password-1');
  await page.goto(`${url()}/connections`);
  const row = page.getByTestId('connection-row').filter({ hasText: 'Read-only view' });
  await expect(row).toBeVisible();
  await expect(page.getByTestId('connection-new')).toHaveCount(0);
  await expect(row.getByTestId('connection-test')).toHaveCount(0);
  // The external id is for tenant admins.
  await expect(page.getByTestId('aws-access')).toHaveCount(0);
  expect((await api(page, 'GET', '/api/v1/tenants/demo/connections/external-id')).status).toBe(403);
  const id = (await api(page, 'GET', '/api/v1/tenants/demo/connections')).body.find((c) => c.name === 'Read-only view').id;
  expect((await api(page, 'POST', `/api/v1/tenants/demo/connections/${id}/test`)).status).toBe(403);
  expect((await api(page, 'DELETE', `/api/v1/tenants/demo/connections/${id}`)).status).toBe(403);
});

test('a process set to run on EMR runs there as steps, live in the run view', async ({ page }) => {
  const cluster = await emulatorCluster();
  await fetch(`${process.env.TRELLIS_EMULATOR_URL}/trellis-emulator/emr/auto`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: true, pending_seconds: 0.1, running_seconds: 0.5, final: 'COMPLETED' }),
  });
  await signIn(page);
  const connection = await api(page, 'POST', '/api/v1/tenants/demo/connections', {
    name: 'E2E runs', region: 'us-east-1', role_arn: 'arn:aws:iam::123456789012:role/trellis',
    cluster_id: cluster, endpoint_url: process.env.TRELLIS_EMULATOR_URL,
  });
  expect(connection.status).toBe(201);
  const graph = {
    nodes: [
      { id: 'first', component: 'noop', position: { x: 40, y: 40 } },
      { id: 'second', component: 'sleep', params: { seconds: 1 }, position: { x: 300, y: 40 } },
    ],
    edges: [{ from: 'first', to: 'second' }],
  };
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', { name: 'E2E on EMR', graph });
  expect(created.status).toBe(201);

  await page.goto(`${url()}/processes/${created.body.id}`);
  await page.getByTestId('runs-on-select').selectOption(connection.body.id);
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-status')).toContainText('Published version 1');
  await page.getByTestId('run-now').click();
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 20_000 });

  const steps = await (await fetch(`${process.env.TRELLIS_EMULATOR_URL}/trellis-emulator/emr/steps`)).json();
  const runId = page.url().split('/runs/')[1];
  const ours = steps.filter((s) => s.name.startsWith(`trellis:${runId}:`)).map((s) => [s.name, s.state]).sort();
  expect(ours).toEqual([
    [`trellis:${runId}:C_first:1`, 'COMPLETED'],
    [`trellis:${runId}:C_second:1`, 'COMPLETED'],
  ]);

  // Its version is also an Airflow DAG file, linked from the version list.
  await page.goto(`${url()}/processes/${created.body.id}/versions`);
  const link = page.getByTestId('version-row').first().getByTestId('airflow-file');
  await expect(link).toHaveText('Airflow DAG file');
  const file = await page.request.get(url() + await link.getAttribute('href'));
  expect(file.status()).toBe(200);
  expect(file.headers()['content-type']).toBe('text/x-python; charset=utf-8');
  const text = await file.text();
  expect(text).toContain(`DAG_ID = "trellis.demo.${created.body.id}.v1"`);
  expect(text).toContain(`CLUSTER_ID = "${cluster}"`);
});

test('a process set to run on Airflow is saved so, and publishing says why not when the server has no Airflow', async ({ page }) => {
  await signIn(page);
  const connection = await api(page, 'POST', '/api/v1/tenants/demo/connections', {
    name: 'E2E for Airflow', region: 'us-east-1', cluster_id: 'j-AIRFLOWE2E',
    role_arn: 'arn:aws:iam::123456789012:role/trellis',
  });
  expect(connection.status).toBe(201);
  // Trellis names the Airflow connection it keeps; nobody types one.
  expect(connection.body.airflow_conn_id).toBe(`trellis_demo_${connection.body.id}`);
  const created = await api(page, 'POST', '/api/v1/tenants/demo/processes', {
    name: 'E2E on Airflow',
    graph: { nodes: [{ id: 'only', component: 'noop', position: { x: 40, y: 40 } }], edges: [] },
  });
  expect(created.status).toBe(201);

  await page.goto(`${url()}/processes/${created.body.id}`);
  await page.getByTestId('runs-on-select').selectOption(`airflow:${connection.body.id}`);
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  const draft = await api(page, 'GET', `/api/v1/tenants/demo/processes/${created.body.id}`);
  expect(draft.body.graph.orchestrator).toBe('airflow');
  expect(draft.body.graph.connection).toBe(connection.body.id);
  await page.getByTestId('publish').click();
  await expect(page.getByTestId('publish-status')).toContainText('no Airflow');
  // Back to the embedded engine: the choice round-trips.
  await page.reload();
  await expect(page.getByTestId('runs-on-select')).toHaveValue(`airflow:${connection.body.id}`);
  await page.getByTestId('runs-on-select').selectOption('');
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  const back = await api(page, 'GET', `/api/v1/tenants/demo/processes/${created.body.id}`);
  expect(back.body.graph.orchestrator).toBeUndefined();
  // This server, with the connection's S3 data: the steps stay here.
  await page.getByTestId('runs-on-select').selectOption(`local:${connection.body.id}`);
  await expect(page.getByTestId('save-state')).toHaveText(/^Saved/);
  const local = await api(page, 'GET', `/api/v1/tenants/demo/processes/${created.body.id}`);
  expect(local.body.graph.local_steps).toBe(true);
  expect(local.body.graph.connection).toBe(connection.body.id);
  expect(local.body.graph.orchestrator).toBeUndefined();
  await page.reload();
  await expect(page.getByTestId('runs-on-select')).toHaveValue(`local:${connection.body.id}`);
  // The connections page shows the Airflow connection Trellis keeps.
  await page.goto(`${url()}/connections`);
  await expect(page.getByTestId('connection-row').filter({ hasText: 'E2E for Airflow' })
    .getByTestId('connection-airflow-conn')).toHaveText(`trellis_demo_${connection.body.id}`);
});
