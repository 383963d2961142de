// Accessibility as a test: axe-core (@axe-core/playwright) on every page,
// signed in as each role, in the light and the dark theme. A serious or
// critical violation of WCAG 2.1 A/AA fails the test, listed with the
// page, the rule and the elements. Tagged @a11y: `make test` runs it on the
// release build only (the pages are the same in both builds).
const { test, expect } = require('@playwright/test');
const { default: AxeBuilder } = require('@axe-core/playwright');

const { url, signIn, signInAs, api } = require('../helpers');

const ROLES = [
  { username: 'ally-viewer', role: 'viewer' },
  { username: 'ally-editor', role: 'editor' },
  { username: 'ally-admin', role: 'tenant_admin' },
  { username: 'admin', role: 'platform admin' },
];
const PASSWORD = 'ally-password-1';

// The demo process, a finished run of it (so the run, runs and datasets
// pages have content), made once through the API.
let world = null;
async function prepare(browser) {
  if (world) return world;
  const page = await browser.newPage();
  await signIn(page);
  for (const { username, role } of ROLES.slice(0, 3)) {
    expect([201, 409]).toContain((await api(page, 'POST', '/api/v1/admin/users', { username, password: PASSWORD })).status);
    expect([200, 201]).toContain((await api(page, 'PUT', `/api/v1/tenants/demo/members/${username}`, { role })).status);
  }
  const processes = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const daily = processes.body.find((p) => p.name === 'Daily revenue by country');
  const run = await api(page, 'POST', `/api/v1/tenants/demo/processes/${daily.id}/runs`, {});
  expect(run.status).toBe(201);
  await expect.poll(async () => (await api(page, 'GET', `/api/v1/tenants/demo/runs/${run.body.id}`)).body.state,
    { timeout: 30_000 }).toMatch(/succeeded|failed/);
  await page.close();
  world = { process: daily.id, run: run.body.id };
  return world;
}

// Every page of the app; each role opens them all (a page a role may not
// use says so, and that page must be accessible too).
function pages({ process, run }) {
  return [
    '/', '/processes', `/processes/${process}`, `/processes/${process}/versions`,
    `/processes/${process}/runs`, `/processes/${process}/schedule`, `/processes/${process}/copy`,
    '/import', '/templates', '/runs', `/runs/${run}`, '/schedules', '/datasets',
    '/datasets/revenue_by_country', '/files', '/connections', '/alerts', '/members', '/audit',
    '/admin', '/profile',
  ];
}

// The serious and critical violations on the page as it is now.
async function violations(page, where) {
  const result = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${where}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

// Opens `path` and waits until it has hydrated and loaded its data.
async function open(page, path) {
  await page.goto(`${url()}${path}`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('loading')).toHaveCount(0, { timeout: 15_000 });
}

for (const theme of ['light', 'dark']) {
  test(`the sign-in page has no serious accessibility violations (${theme}) @a11y`, async ({ page }) => {
    await page.addInitScript((t) => localStorage.setItem('trellis.theme', t), theme);
    await open(page, '/login');
    await expect(page.getByTestId('app')).toHaveClass(theme === 'dark' ? /\bdark\b/ : /^(?!.*\bdark\b)/);
    expect(await violations(page, `/login ${theme}`)).toEqual([]);
  });

  for (const { username, role } of ROLES) {
    test(`every page as ${role} has no serious accessibility violations (${theme}) @a11y`, async ({ browser }) => {
      test.setTimeout(180_000);
      const made = await prepare(browser);
      const context = await browser.newContext();
      await context.addInitScript((t) => localStorage.setItem('trellis.theme', t), theme);
      const page = await context.newPage();
      if (username === 'admin') await signIn(page);
      else await signInAs(page, username, PASSWORD);
      const found = [];
      for (const path of pages(made)) {
        await open(page, path);
        await expect(page.getByTestId('app')).toHaveClass(theme === 'dark' ? /\bdark\b/ : /^(?!.*\bdark\b)/);
        found.push(...(await violations(page, `${path} as ${role}, ${theme}`)));
      }
      await context.close();
      expect(found).toEqual([]);
    });
  }
}
