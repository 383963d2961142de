// The component editor on the Admin page: a platform admin makes a catalog
// entry in the form — a typed parameter whose default the shared validator
// checks as it is typed, local execution naming that parameter — sees it
// previewed as its node and its parameter panel, saves it, finds it in the
// catalog exactly as entered, edits it again, and changes it through the
// JSON view; what the server refuses shows under the field it names.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { signIn, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

// The catalog entry `key` as any member of demo reads it.
async function catalogEntry(page, key) {
  const list = await api(page, 'GET', '/api/v1/tenants/demo/components');
  expect(list.status).toBe(200);
  return list.body.find((c) => c.key === key);
}

async function openAdmin(page) {
  await signIn(page);
  await page.getByTestId('nav').getByRole('link', { name: 'Admin' }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await expect(page.getByTestId('component-form')).toBeVisible();
}

test('a platform admin builds a component in the form, previews it, saves it and edits it again', async ({ page }) => {
  test.setTimeout(60_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // A fresh key per run: the catalog is global.
  const key = `e2e.echo-${Date.now().toString(36)}`;
  await openAdmin(page);
  const form = page.getByTestId('component-form');
  const preview = page.getByTestId('component-preview');
  const save = page.getByTestId('component-save');

  // An empty form: the validator names what it lacks, and Save waits.
  await page.getByTestId('component-new').click();
  await expect(form.getByRole('heading')).toHaveText('New component');
  await expect(form.getByTestId('error-key')).toContainText('a key is 1 to 64');
  await expect(form.getByTestId('error-name')).toHaveText('`name` is required');
  await expect(save).toBeDisabled();
  await form.getByTestId('component-key').fill(key);
  await form.getByTestId('component-name').fill('Echo message');
  await form.getByTestId('component-category').fill('Testing');
  await form.getByTestId('component-description').fill('Prints its message.');
  await form.getByTestId('component-icon').fill('circle');
  await form.getByTestId('component-retries').fill('2');
  await form.getByTestId('component-timeout').fill('60');
  await expect(form.getByTestId('error-key')).toHaveCount(0);
  await expect(form.getByTestId('error-name')).toHaveCount(0);
  await expect(form.getByTestId('component-problems')).toHaveCount(0);
  await expect(save).toBeEnabled();

  // A string parameter with a pattern, and a default that does not match it:
  // the validator's message under that row's default, and Save waits.
  await form.getByTestId('param-add').click();
  const row = form.getByTestId('param-row');
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId('param-type')).toHaveValue('string');
  await row.getByTestId('param-name').fill('message');
  await row.getByTestId('param-label').fill('Message');
  await row.getByTestId('param-pattern').fill('[a-z ]+');
  await row.getByTestId('param-max-length').fill('40');
  await row.getByTestId('param-required').check();
  await row.getByTestId('param-help').fill('Lower-case words.');
  await row.getByTestId('param-default').fill('Hello!');
  await expect(row.getByTestId('error-params[0].default')).toHaveText('`Message` must match the pattern [a-z ]+');
  await expect(save).toBeDisabled();
  await expect(form.getByTestId('component-problem-count')).toHaveText('1 problem to fix before saving');

  // Fixed: nothing left to fix, and the preview shows the node as the canvas
  // draws it and the field users will fill in, with its label.
  await row.getByTestId('param-default').fill('hello world');
  await expect(row.getByTestId('error-params[0].default')).toHaveCount(0);
  await expect(save).toBeEnabled();
  await expect(preview.getByTestId('preview-node').locator('.node-title')).toContainText('Echo message');
  await expect(preview.getByTestId('preview-node').locator('.node-sub')).toHaveText(key);
  // Its category's colour and its icon, as on the canvas and in the palette.
  await expect(preview.getByTestId('preview-node').locator('.node-band')).toHaveClass(/cat-testing/);
  await expect(preview.getByTestId('preview-palette')).toContainText('Echo message');
  const panel = preview.getByTestId('preview-panel');
  const field = panel.locator('label.field').filter({ has: page.getByTestId('param-message') });
  await expect(field).toContainText('Message *');
  await expect(field).toContainText('Lower-case words.');
  await expect(panel.getByTestId('param-message')).toHaveAttribute('placeholder', 'hello world');
  // The preview's input is live (checked as a node's value is), and saved nowhere.
  await panel.getByTestId('param-message').fill('Hi!');
  await panel.getByTestId('param-message').blur();
  await expect(panel.getByTestId('field-error')).toContainText('must match the pattern');
  await expect(save).toBeEnabled();

  // Local execution: `echo {message}`; an argument naming no parameter is
  // named under the arguments first.
  await form.getByTestId('component-local').check();
  await form.getByTestId('component-local-program').fill('echo');
  await form.getByTestId('component-local-args').fill('{msg}');
  await expect(form.getByTestId('error-local.args')).toContainText('names no parameter of this component');
  await expect(save).toBeDisabled();
  await form.getByTestId('component-local-args').fill('{message}');
  await expect(form.getByTestId('error-local.args')).toHaveCount(0);

  await save.click();
  await expect(form.getByTestId('component-saved')).toHaveText(`Saved \`${key}\``);
  await expect(form.getByRole('heading')).toHaveText(`Edit \`${key}\``);
  await expect(form.getByTestId('component-key')).not.toBeEditable();

  // In the catalog exactly as entered.
  expect(await catalogEntry(page, key)).toEqual({
    key,
    name: 'Echo message',
    category: 'Testing',
    description: 'Prints its message.',
    icon: 'circle',
    params: [{
      name: 'message',
      label: 'Message',
      type: 'string',
      pattern: '[a-z ]+',
      max_length: 40,
      required: true,
      default: 'hello world',
      help: 'Lower-case words.',
    }],
    local: { program: 'echo', args: ['{message}'] },
    retries: 2,
    retry_delay_seconds: 5,
    timeout_seconds: 60,
  });

  // Edited again: picked from the catalog into an empty form, renamed (the
  // preview follows), saved.
  await page.getByTestId('component-new').click();
  await expect(form.getByTestId('component-key')).toHaveValue('');
  await expect(form.getByTestId('param-row')).toHaveCount(0);
  await page.getByTestId('catalog-pick').selectOption(key);
  await expect(form.getByTestId('component-key')).toHaveValue(key);
  await expect(form.getByTestId('component-name')).toHaveValue('Echo message');
  await expect(form.getByTestId('param-row').getByTestId('param-pattern')).toHaveValue('[a-z ]+');
  await expect(form.getByTestId('component-local-args')).toHaveValue('{message}');
  await form.getByTestId('component-name').fill('Echo a message');
  await expect(preview.getByTestId('preview-node').locator('.node-title')).toContainText('Echo a message');
  await expect(panel.getByRole('heading')).toHaveText('Echo a message');
  await expect(form.getByTestId('component-saved')).toHaveCount(0);
  await save.click();
  await expect(form.getByTestId('component-saved')).toHaveText(`Saved \`${key}\``);
  expect((await catalogEntry(page, key)).name).toBe('Echo a message');

  // The JSON view shows the entry as the API has it; valid JSON typed there
  // fills the form, invalid JSON is named and leaves the form as it is.
  const json = page.getByTestId('component-json');
  await json.locator('summary').click();
  const text = json.getByTestId('catalog-json');
  const entry = JSON.parse(await text.inputValue());
  expect(entry).toEqual(await catalogEntry(page, key));
  entry.description = 'Prints its message; set from JSON.';
  entry.params[0].max_length = 20;
  await text.fill(JSON.stringify(entry, null, 2));
  await expect(form.getByTestId('component-description')).toHaveValue('Prints its message; set from JSON.');
  await expect(form.getByTestId('param-row').getByTestId('param-max-length')).toHaveValue('20');
  await expect(json.getByTestId('component-json-error')).toHaveCount(0);
  await text.fill('{ "key": ');
  await expect(json.getByTestId('component-json-error')).toContainText('Not a component');
  await expect(form.getByTestId('component-description')).toHaveValue('Prints its message; set from JSON.');
  await expect(save).toBeEnabled();
  await save.click();
  await expect(form.getByTestId('component-saved')).toHaveText(`Saved \`${key}\``);
  const saved = await catalogEntry(page, key);
  expect(saved.description).toBe('Prints its message; set from JSON.');
  expect(saved.params[0].max_length).toBe(20);
  // Saved, the JSON view shows the entry again.
  await expect(json.getByTestId('component-json-error')).toHaveCount(0);
  expect(JSON.parse(await text.inputValue())).toEqual(saved);
  await page.screenshot({ path: shot('component-editor.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('what the server refuses shows under the field it names', async ({ page }) => {
  await openAdmin(page);
  const form = page.getByTestId('component-form');
  await page.getByTestId('component-new').click();
  // Valid as far as the form can tell, but the key is taken.
  await form.getByTestId('component-key').fill('noop');
  await form.getByTestId('component-name').fill('Another no-op');
  await form.getByTestId('component-category').fill('Testing');
  await form.getByTestId('component-save').click();
  await expect(form.getByTestId('error-key')).toHaveText('component `noop` already exists');
  await expect(form.getByTestId('component-saved')).toHaveCount(0);
  // Typing again clears what the server said.
  await form.getByTestId('component-key').fill('noop-2');
  await expect(form.getByTestId('error-key')).toHaveCount(0);
  await expect(form.getByTestId('component-save')).toBeEnabled();
});
