// Copies, export and import in the browser: a process's definition
// downloads as JSON and YAML (the draft's or a version's), imports back as a
// new process, a broken file lists every problem and saves nothing, a
// process duplicates into its own tenant and into another, and viewers get
// the export but neither the Duplicate form nor the import.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

const DEMO = 'Daily revenue by country';
const FORMAT = 'trellis.process/v1';

// A name no other test of this run uses.
const fresh = (stem) => `${stem} ${Date.now().toString(36)}`;

// The demo process as the API has it (its draft).
async function demoProcess(page) {
  const list = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  expect(list.status).toBe(200);
  const summary = list.body.find((p) => p.name === DEMO);
  expect(summary).toBeTruthy();
  const one = await api(page, 'GET', `/api/v1/tenants/demo/processes/${summary.id}`);
  expect(one.status).toBe(200);
  return one.body;
}

// The ids of the demo tenant's processes, sorted.
async function processIds(page) {
  const list = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  expect(list.status).toBe(200);
  return list.body.map((p) => p.id).sort();
}

// Opens a page by its URL and waits until it is live (hydrated, its
// lazily loaded part included).
async function open(page, at) {
  await page.goto(`${url()}${at}`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
}

// The file a download link offers, fetched with the page's session.
async function download(page, link) {
  const href = await link.getAttribute('href');
  expect(href).toBeTruthy();
  const response = await page.request.get(`${url()}${href}`);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-disposition']).toMatch(/^attachment; filename=".+\.trellis\.(json|yaml)"$/);
  return response.text();
}

// The editor of a process just made: its id from the URL, once its canvas shows `nodes` nodes.
async function landedOnEditor(page, nodes, not) {
  await expect(page).toHaveURL(/\/processes\/[^/]+$/);
  const id = page.url().split('/processes/')[1];
  expect(id).not.toBe(not);
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(page.getByTestId('canvas').locator('g.node')).toHaveCount(nodes);
  return id;
}

test('the Copy & export tab downloads the draft and a version as JSON and YAML', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const demo = await demoProcess(page);

  await page.getByTestId('process-row').filter({ hasText: DEMO }).getByRole('link').click();
  await expect(page.getByTestId('editor')).toBeVisible();
  await page.getByTestId('tab-copy').click();
  await expect(page).toHaveURL(new RegExp(`/processes/${demo.id}/copy$`));
  await expect(page.getByTestId('tab-copy')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('export-hint')).toContainText('diff-friendly');
  await expect(page.getByTestId('export-hint')).toContainText('git');
  await expect(page.getByTestId('export-version')).toHaveValue('');

  // The draft, as JSON: the same graph as the API's draft.
  const json = page.getByTestId('export-json');
  await expect(json).toHaveText('Download JSON');
  await expect(json).toHaveAttribute('download');
  await expect(json).toHaveAttribute('href', /format=json/);
  const definition = JSON.parse(await download(page, json));
  expect(definition.format).toBe(FORMAT);
  expect(definition.name).toBe(DEMO);
  expect(definition.graph).toEqual(demo.graph);
  // Stable: the same bytes twice.
  expect(await download(page, json)).toBe(await download(page, json));

  // As YAML.
  const yaml = page.getByTestId('export-yaml');
  await expect(yaml).toHaveText('Download YAML');
  await expect(yaml).toHaveAttribute('href', /format=yaml/);
  const yamlText = await download(page, yaml);
  expect(yamlText.startsWith(`format: ${FORMAT}\n`)).toBe(true);
  expect(yamlText).toContain(`name: ${DEMO}`);

  // Version 1 (the demo publishes it): both links follow the choice.
  await page.getByTestId('export-version').selectOption('1');
  await expect(json).toHaveAttribute('href', /version=1/);
  await expect(yaml).toHaveAttribute('href', /version=1/);
  const v1 = await api(page, 'GET', `/api/v1/tenants/demo/processes/${demo.id}/versions/1`);
  expect(v1.status).toBe(200);
  expect(JSON.parse(await download(page, json)).graph).toEqual(v1.body.graph);
  expect(errors).toEqual([]);
});

test('an exported definition imports back as a new process; a broken one lists every problem and saves nothing', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const demo = await demoProcess(page);
  const exported = await page.request.get(
    `${url()}/api/v1/tenants/demo/processes/${demo.id}/definition?format=json`,
  );
  expect(exported.status()).toBe(200);
  const text = await exported.text();

  // From the processes list, as a file.
  await page.getByTestId('import-link').click();
  await expect(page).toHaveURL(/\/import$/);
  await page.getByTestId('import-file').setInputFiles({
    name: 'daily-revenue-by-country.trellis.json',
    mimeType: 'application/json',
    buffer: Buffer.from(text),
  });
  // Its text shows, to be changed before importing.
  await expect(page.getByTestId('import-text')).toHaveValue(text);
  const name = fresh('Imported revenue');
  await page.getByTestId('import-name').fill(name);
  await page.getByTestId('import-submit').click();
  const id = await landedOnEditor(page, demo.graph.nodes.length, demo.id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  const made = await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}`);
  expect(made.status).toBe(200);
  expect(made.body.name).toBe(name);
  expect(made.body.graph).toEqual(demo.graph);

  // A file with an unknown component, no name and a format this server
  // does not read, pasted: every problem is listed, nothing is saved and
  // the text stays.
  const before = await processIds(page);
  await open(page, '/import');
  const broken = JSON.stringify(
    {
      format: 'trellis.process/v0',
      graph: { nodes: [{ id: 'mystery', component: 'no.such_component' }], edges: [] },
    },
    null,
    2,
  );
  await page.getByTestId('import-text').fill(broken);
  await page.getByTestId('import-submit').click();
  const problems = page.getByTestId('import-problems');
  await expect(problems).toBeVisible();
  await expect(problems).toContainText('format: ');
  await expect(problems).toContainText('trellis.process/v0');
  await expect(problems).toContainText('name: ');
  await expect(problems).toContainText('Node mystery: component — ');
  await expect(problems).toContainText('no.such_component');
  expect(await problems.getByTestId('import-problem').count()).toBeGreaterThanOrEqual(3);
  await expect(page).toHaveURL(/\/import$/);
  await expect(page.getByTestId('import-text')).toHaveValue(broken);
  expect(await processIds(page)).toEqual(before);
  await page.screenshot({ path: shot('import-problems.png'), fullPage: true });

  // Not a definition at all (YAML, as it does not start with "{"): the
  // syntax problem is listed too.
  await page.getByTestId('import-text').fill('format: [unclosed');
  await page.getByTestId('import-name').fill(fresh('Never made'));
  await page.getByTestId('import-submit').click();
  await expect(problems).toContainText('definition: ');
  await expect(problems).toContainText('YAML');
  expect(await processIds(page)).toEqual(before);
  expect(errors).toEqual([]);
});

test('a process duplicates into its own tenant', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const demo = await demoProcess(page);
  expect(demo.graph.connection).toBeUndefined();
  await open(page, `/processes/${demo.id}/copy`);

  const form = page.getByTestId('copy-form');
  await expect(form).toBeVisible();
  await expect(page.getByTestId('copy-name')).toHaveValue(`Copy of ${DEMO}`);
  await expect(page.getByTestId('copy-tenant')).toHaveValue('demo');
  await expect(page.getByTestId('copy-version')).toHaveValue('');
  // The demo process runs on this server: no connection to choose.
  await expect(page.getByTestId('copy-connection')).toHaveCount(0);
  await page.screenshot({ path: shot('copy.png'), fullPage: true });

  // A name that is taken is named under its field; nothing is made.
  const before = await processIds(page);
  await page.getByTestId('copy-name').fill(DEMO);
  await page.getByTestId('copy-submit').click();
  await expect(page.getByTestId('error-name')).toContainText('already exists');
  await expect(page).toHaveURL(new RegExp(`/processes/${demo.id}/copy$`));
  expect(await processIds(page)).toEqual(before);

  const name = fresh('Revenue copy');
  await page.getByTestId('copy-name').fill(name);
  await page.getByTestId('copy-submit').click();
  const id = await landedOnEditor(page, demo.graph.nodes.length, demo.id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  const made = await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}`);
  expect(made.body.graph.nodes.map((n) => n.id)).toEqual(demo.graph.nodes.map((n) => n.id));
  expect(made.body.latest_version).toBeNull();
  expect(errors).toEqual([]);
});

test('a process duplicates into another tenant, which becomes the current one', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  // The platform admin edits every tenant.
  expect([201, 409]).toContain((await api(page, 'POST', '/api/v1/admin/tenants', { slug: 'copies', name: 'Copies Ltd' })).status);
  const demo = await demoProcess(page);
  expect(demo.graph.connection).toBeUndefined();
  await open(page, `/processes/${demo.id}/copy`);

  const name = fresh('Revenue elsewhere');
  await page.getByTestId('copy-name').fill(name);
  await page.getByTestId('copy-tenant').selectOption('copies');
  // It runs on this server, so it needs no connection there either.
  await expect(page.getByTestId('copy-connection')).toHaveCount(0);
  await page.getByTestId('copy-submit').click();
  const id = await landedOnEditor(page, demo.graph.nodes.length, demo.id);
  await expect(page.getByTestId('tenant-switcher')).toHaveValue('copies');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  const there = await api(page, 'GET', '/api/v1/tenants/copies/processes');
  expect(there.body.map((p) => p.id)).toContain(id);
  expect((await api(page, 'GET', `/api/v1/tenants/demo/processes/${id}`)).status).toBe(404);
  expect(errors).toEqual([]);
});

test('a viewer exports but gets no Duplicate form and no import', async ({ browser, page }) => {
  const admin = await browser.newPage();
  await signIn(admin);
  expect([201, 409]).toContain((await api(admin, 'POST', '/api/v1/admin/users', { username: 'vito', password: 'vito-password-1' })).status);
  expect([200, 201]).toContain((await api(admin, 'PUT', '/api/v1/tenants/demo/members/vito', { role: 'viewer' })).status);
  const demo = await demoProcess(admin);
  await admin.close();

  await signInAs(page, 'vito', 'vito-password-1');
  await expect(page.getByTestId('process-list')).toContainText(DEMO);
  await expect(page.getByTestId('import-link')).toBeHidden();
  await expect(page.getByTestId('create-process')).toBeHidden();

  await open(page, `/processes/${demo.id}/copy`);
  await expect(page.getByTestId('export-json')).toBeVisible();
  expect(JSON.parse(await download(page, page.getByTestId('export-json'))).format).toBe(FORMAT);
  await expect(page.getByTestId('copy-editors-only')).toContainText('Editors can duplicate');
  await expect(page.getByTestId('copy-form')).toHaveCount(0);

  await open(page, '/import');
  await expect(page.getByTestId('import-editors-only')).toBeVisible();
  await expect(page.getByTestId('import-form')).toHaveCount(0);
});
