// The template gallery in the browser: the three built-in templates, a new
// process from one (a blank name named under its field, then the values
// given becoming the new process's parameter defaults), a process saved as
// a template from its Copy & export tab and deleted again, and viewers who
// see the gallery but cannot use it.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

const BUILTINS = ['Check a file', 'Convert a CSV file to JSON Lines', 'Join two files and export a summary'];
const CONVERT = 'Convert a CSV file to JSON Lines';
const DEMO = 'Daily revenue by country';

// A name no other test of this run uses.
const fresh = (stem) => `${stem} ${Date.now().toString(36)}`;

// Opens a page by its URL and waits until it is live (hydrated, its
// lazily loaded part included).
async function open(page, at) {
  await page.goto(`${url()}${at}`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
}

// The gallery's card of the template named `name`.
function card(page, name) {
  return page
    .getByTestId('template-card')
    .filter({ has: page.getByRole('heading', { name, exact: true }) });
}

// The demo tenant's process named `name`, as the API has it (its draft).
async function processNamed(page, name) {
  const list = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  expect(list.status).toBe(200);
  const summary = list.body.find((p) => p.name === name);
  expect(summary).toBeTruthy();
  const one = await api(page, 'GET', `/api/v1/tenants/demo/processes/${summary.id}`);
  expect(one.status).toBe(200);
  return one.body;
}

test('the gallery shows the built-in templates; "Use" makes a process whose defaults are the values given', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);

  // From the processes list, next to the import.
  const link = page.getByTestId('templates-link');
  await expect(link).toHaveText('New from template');
  await link.click();
  await expect(page).toHaveURL(/\/templates$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('New from template');

  // The built-ins first, in their order, none of them deletable.
  const cards = page.getByTestId('template-gallery').getByTestId('template-card');
  for (const [i, name] of BUILTINS.entries()) {
    const one = cards.nth(i);
    await expect(one.getByRole('heading')).toHaveText(name);
    await expect(one.getByTestId('template-builtin')).toHaveText('Built-in');
    await expect(one.getByTestId('template-use')).toBeVisible();
    await expect(one.getByTestId('template-delete')).toHaveCount(0);
  }
  const convert = card(page, CONVERT);
  await expect(convert.getByTestId('template-nodes')).toHaveText('2 nodes');
  // The catalog's names for its components.
  await expect(convert.getByTestId('template-components')).toHaveText('Ingest file, Export file');
  await expect(page.getByTestId('templates-editors-only')).toHaveCount(0);

  // "Use" opens the form: the template's name, and its parameters with
  // their defaults and descriptions.
  await expect(page.getByTestId('template-form')).toHaveCount(0);
  await convert.getByTestId('template-use').click();
  const form = page.getByTestId('template-form');
  await expect(form).toBeVisible();
  await expect(page.getByTestId('template-name')).toHaveValue(CONVERT);
  await expect(page.getByTestId('template-param-source')).toHaveValue('samples/customers.csv');
  await expect(page.getByTestId('template-param-destination')).toHaveValue('converted/rows.jsonl');
  await expect(page.getByTestId('template-field-destination')).toContainText('Where the JSON Lines go');
  await page.screenshot({ path: shot('templates.png'), fullPage: true });

  // A blank name is named under its field; nothing is made.
  const before = (await api(page, 'GET', '/api/v1/tenants/demo/processes')).body.length;
  await page.getByTestId('template-name').fill('');
  await page.getByTestId('template-create').click();
  await expect(page.getByTestId('error-name')).toContainText('needs a name');
  await expect(page).toHaveURL(/\/templates$/);
  await expect(page.getByTestId('template-error')).toHaveCount(0);
  expect((await api(page, 'GET', '/api/v1/tenants/demo/processes')).body.length).toBe(before);

  // With a name and another destination: the editor of the new process.
  const name = fresh('Customers as JSON Lines');
  await page.getByTestId('template-name').fill(name);
  await page.getByTestId('template-param-destination').fill('converted/customers.jsonl');
  await page.getByTestId('template-create').click();
  await expect(page).toHaveURL(/\/processes\/[^/]+$/);
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.getByTestId('canvas').locator('g.node')).toHaveCount(2);

  // Its draft has the value given as the parameter's default, and the
  // template's for the one left as it was.
  const made = await processNamed(page, name);
  expect(page.url()).toContain(`/processes/${made.id}`);
  const defaults = Object.fromEntries(made.graph.params.map((p) => [p.name, p.default]));
  expect(defaults).toEqual({ source: 'samples/customers.csv', destination: 'converted/customers.jsonl' });
  expect(made.latest_version).toBeNull();
  expect(errors).toEqual([]);
});

test('a process saved as a template from its Copy & export tab joins the gallery and can be deleted', async ({ page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await signIn(page);
  const demo = await processNamed(page, DEMO);
  await open(page, `/processes/${demo.id}/copy`);

  // Prefilled with the process's name and description, from its draft.
  const form = page.getByTestId('template-save-form');
  await expect(form).toBeVisible();
  await expect(page.getByTestId('template-save-name')).toHaveValue(DEMO);
  await expect(page.getByTestId('template-save-description')).toHaveValue(demo.description);
  await expect(page.getByTestId('template-save-version')).toHaveValue('');

  // A built-in's name is taken: named under the field, nothing saved.
  await page.getByTestId('template-save-name').fill(CONVERT);
  await page.getByTestId('template-save').click();
  await expect(form.getByTestId('error-name')).toContainText(CONVERT);
  await expect(page.getByTestId('template-saved')).toHaveCount(0);

  // From version 1, under a name of its own.
  const name = fresh('Revenue template');
  await page.getByTestId('template-save-name').fill(name);
  await page.getByTestId('template-save-version').selectOption('1');
  await page.getByTestId('template-save').click();
  const saved = page.getByTestId('template-saved');
  await expect(saved).toContainText(name);
  await expect(form.getByTestId('error-name')).toHaveCount(0);
  const listed = (await api(page, 'GET', '/api/v1/tenants/demo/templates')).body.find((t) => t.name === name);
  expect(listed).toBeTruthy();
  expect(listed.builtin).toBe(false);
  expect(listed.created_by).toBe('admin');

  // Its link opens the gallery, where it follows the built-ins.
  await saved.getByRole('link').click();
  await expect(page).toHaveURL(/\/templates$/);
  const mine = card(page, name);
  await expect(mine).toBeVisible();
  await expect(mine.getByTestId('template-author')).toHaveText('by admin');
  await expect(mine.getByTestId('template-builtin')).toHaveCount(0);
  await expect(mine.getByTestId('template-nodes')).toHaveText(`${listed.graph.nodes.length} nodes`);
  const cards = page.getByTestId('template-card');
  await expect(cards).toHaveCount(BUILTINS.length + 1);
  await expect(cards.nth(BUILTINS.length)).toContainText(name);

  // Deleting asks first.
  await mine.getByTestId('template-delete').click();
  await mine.getByTestId('template-delete-cancel').click();
  await expect(mine).toBeVisible();
  await mine.getByTestId('template-delete').click();
  await mine.getByTestId('template-delete-confirm').click();
  await expect(mine).toHaveCount(0);
  await expect(cards).toHaveCount(BUILTINS.length);
  const after = (await api(page, 'GET', '/api/v1/tenants/demo/templates')).body;
  expect(after.map((t) => t.name)).toEqual(BUILTINS);
  expect(errors).toEqual([]);
});

test('a viewer sees the gallery but cannot use it', async ({ browser, page }) => {
  const admin = await browser.newPage();
  await signIn(admin);
  expect([201, 409]).toContain((await api(admin, 'POST', '/api/v1/admin/users', { username: 'vita', password: 'vita-password-1' })).status);
  expect([200, 201]).toContain((await api(admin, 'PUT', '/api/v1/tenants/demo/members/vita', { role: 'viewer' })).status);
  await admin.close();

  await signInAs(page, 'vita', 'vita-password-1');
  await expect(page.getByTestId('templates-link')).toBeHidden();
  await open(page, '/templates');
  await expect(page.getByTestId('template-gallery')).toBeVisible();
  for (const name of BUILTINS) await expect(card(page, name)).toBeVisible();
  await expect(page.getByTestId('templates-editors-only')).toContainText('Editors can start new processes');
  await expect(page.getByTestId('template-use')).toHaveCount(0);
  await expect(page.getByTestId('template-delete')).toHaveCount(0);
  await expect(page.getByTestId('template-form')).toHaveCount(0);
});
