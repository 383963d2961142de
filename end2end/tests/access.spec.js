// Who sees what: tenants, roles, single sign-on against a real OpenID
// Connect provider, API tokens, members and the audit log — in the browser.
const { test, expect } = require('@playwright/test');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

// A second tenant with a process of its own, and a user who is an editor in
// the demo tenant and the admin of the new one. Made once, through the API.
let prepared = false;
// (A worker restarted after a failure finds them made already: 409, or 200
// for a membership that exists.)
async function prepare(browser) {
  if (prepared) return;
  const page = await browser.newPage();
  await signIn(page);
  const made = [201, 409];
  expect(made).toContain((await api(page, 'POST', '/api/v1/admin/tenants', { slug: 'acme', name: 'Acme Corp' })).status);
  expect(made).toContain((await api(page, 'POST', '/api/v1/admin/users', { username: 'tess', password: 'tess-password-1' })).status);
  expect([200, 201]).toContain((await api(page, 'PUT', '/api/v1/tenants/demo/members/tess', { role: 'editor' })).status);
  expect([200, 201]).toContain((await api(page, 'PUT', '/api/v1/tenants/acme/members/tess', { role: 'tenant_admin' })).status);
  const graph = { nodes: [{ id: 'a', component: 'noop' }], edges: [] };
  expect(made).toContain((await api(page, 'POST', '/api/v1/tenants/acme/processes', { name: 'Acme only', graph })).status);
  await page.close();
  prepared = true;
}

test('members see only their tenant, switch tenants and sign out', async ({ browser, page }) => {
  await prepare(browser);
  await signInAs(page, 'tess', 'tess-password-1');
  const list = page.getByTestId('process-list');
  const switcher = page.getByTestId('tenant-switcher');
  // The tenants come in slug order: Acme first.
  await expect(switcher).toHaveValue('acme');
  await expect(list).toContainText('Acme only');
  await expect(list).not.toContainText('Daily revenue by country');
  await expect(page.getByTestId('nav').getByRole('link', { name: 'Members' })).toBeVisible();

  await switcher.selectOption('demo');
  await expect(list).toContainText('Daily revenue by country');
  await expect(list).not.toContainText('Acme only');
  // An editor in demo: no member administration here.
  await expect(page.getByTestId('nav').getByRole('link', { name: 'Members' })).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId('tenant-switcher')).toHaveValue('demo');

  await page.getByTestId('user').click();
  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/\/login$/);
  expect((await api(page, 'GET', '/api/v1/me')).status).toBe(401);
  await page.goto(`${url()}/processes`);
  await expect(page.getByTestId('signed-out')).toBeVisible();
});

test('a viewer signed in by single sign-on sees no Publish or Run, and the API refuses them', async ({ page }) => {
  await page.goto(`${url()}/login`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('sso').click();
  // The provider's own sign-in and consent pages.
  await page.locator('input[name=login]').fill('ada');
  await page.locator('input[name=password]').fill('anything');
  await page.locator('button[type=submit]').click();
  await page.locator('button[type=submit]').click();
  await expect(page).toHaveURL(/:\d+\/$/);
  await expect(page.getByTestId('user')).toHaveText('ada');
  await page.getByTestId('nav').getByRole('link', { name: 'Processes' }).click();
  await expect(page.getByTestId('current-tenant')).toHaveText('Demo');

  const row = page.getByTestId('process-row').filter({ hasText: 'Daily revenue by country' });
  await expect(row).toBeVisible();
  await expect(page.getByTestId('create-process')).toBeHidden();
  await expect(row.getByTestId('archive-process')).toBeHidden();
  await row.getByRole('link').click();
  await expect(page.getByTestId('read-only-note')).toBeVisible();
  await expect(page.getByTestId('publish')).toHaveCount(0);
  await expect(page.getByTestId('run-now')).toHaveCount(0);
  await expect(page.getByTestId('palette')).toHaveCount(0);
  await page.screenshot({ path: shot('viewer.png'), fullPage: true });

  const id = page.url().split('/processes/')[1];
  const run = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/runs`, {});
  expect(run.status).toBe(403);
  expect(run.body.detail).toContain('editor');
  const publish = await api(page, 'POST', `/api/v1/tenants/demo/processes/${id}/versions`, { message: 'x' });
  expect(publish.status).toBe(403);
  expect((await api(page, 'GET', '/api/v1/tenants/acme/processes')).status).toBe(404);
});

test('a failed single sign-on says why on the sign-in page', async ({ page }) => {
  await page.goto(`${url()}/api/v1/auth/oidc/callback?error=access_denied&error_description=the+user+said+no`);
  await expect(page).toHaveURL(/\/login\?error=/);
  await expect(page.getByRole('alert')).toContainText('the user said no');
});

test('an API token is shown once, works, and stops working when revoked', async ({ page }) => {
  await signIn(page);
  await page.getByTestId('user').click();
  await page.getByTestId('menu-profile').click();
  await page.getByTestId('token-name').fill('ci pipeline');
  await page.getByTestId('token-role').selectOption('editor');
  await page.getByTestId('token-create').click();
  const secret = await page.getByTestId('token-secret').textContent();
  expect(secret).toMatch(/^trl_/);
  const row = page.getByTestId('token-row').filter({ hasText: 'ci pipeline' });
  await expect(row).toContainText('editor');
  await expect(page.getByTestId('token-list')).not.toContainText(secret);

  const bearer = { headers: { authorization: `Bearer ${secret}` } };
  const listed = await page.request.get(`${url()}/api/v1/tenants/demo/processes`, bearer);
  expect(listed.status()).toBe(200);
  await page.reload();
  // Columns: name, tenant, role, starts with, created, last used, expires.
  await expect(row.locator('td').nth(5)).not.toHaveText('never');
  await row.getByTestId('token-revoke').click();
  await expect(row).toHaveAttribute('data-live', 'false');
  const refused = await page.request.get(`${url()}/api/v1/tenants/demo/processes`, bearer);
  expect(refused.status()).toBe(401);
  expect(refused.headers()['content-type']).toBe('application/problem+json');
});

test('tenant admins manage members and read the audit log', async ({ browser, page }) => {
  await prepare(browser);
  await signIn(page);
  await page.getByTestId('nav').getByRole('link', { name: 'Members' }).click();
  await page.getByTestId('member-username').fill('nobody-here');
  await page.getByTestId('member-add').click();
  await expect(page.getByTestId('member-error')).toContainText('user `nobody-here` not found');
  await page.getByTestId('member-username').fill('tess');
  await page.getByTestId('member-role').selectOption('viewer');
  await page.getByTestId('member-add').click();
  const tess = page.getByTestId('member-row').filter({ hasText: 'tess' });
  await expect(tess.getByRole('combobox')).toHaveValue('viewer');

  await page.getByTestId('nav').getByRole('link', { name: 'Audit log' }).click();
  const change = page.getByTestId('audit-row').filter({ hasText: 'member.set' }).first();
  await expect(change).toContainText('tess');
  await expect(change).toContainText('"viewer"');
  await page.getByTestId('audit-action').selectOption('sign_in');
  await expect(page.getByTestId('audit-row').first()).toHaveAttribute('data-action', 'sign_in');
  await expect(page.getByTestId('audit-row').filter({ hasText: 'member.set' })).toHaveCount(0);
  await page.screenshot({ path: shot('audit.png'), fullPage: true });
  // Back to editor, for the other tests.
  expect((await api(page, 'PUT', '/api/v1/tenants/demo/members/tess', { role: 'editor' })).status).toBe(200);
});

test('platform admins create tenants and users on the admin page', async ({ page }) => {
  await signIn(page);
  await page.getByTestId('nav').getByRole('link', { name: 'Admin' }).click();
  await page.getByTestId('tenant-slug').fill('Bad Slug');
  await page.getByTestId('tenant-name').fill('Bad');
  await page.getByTestId('tenant-create').click();
  await expect(page.getByTestId('tenant-error')).toContainText('lower-case letters');
  await page.getByTestId('tenant-slug').fill('globex');
  await page.getByTestId('tenant-name').fill('Globex');
  await page.getByTestId('tenant-limit').fill('3');
  await page.getByTestId('tenant-create').click();
  const globex = page.getByTestId('tenant-row').filter({ hasText: 'globex' });
  await expect(globex).toContainText('Globex');
  await expect(globex.getByLabel('Task limit of globex')).toHaveValue('3');
  // Its disk: nothing used yet, under the platform default, until it gets its own quota.
  await expect(globex.getByTestId('tenant-usage')).toHaveText('0 B of 53.7 GB (0%)');
  await expect(globex.getByTestId('tenant-quota')).toHaveAttribute('placeholder', 'default (53.7 GB)');
  await globex.getByTestId('tenant-quota').fill('2 GB');
  await globex.getByTestId('tenant-quota').blur();
  await expect(globex.getByTestId('tenant-usage')).toHaveText('0 B of 2.0 GB (0%)');
  await expect(globex.getByTestId('tenant-quota')).toHaveValue(/^2(\.0)? GB$/);
  await globex.getByTestId('tenant-quota').fill('lots');
  await globex.getByTestId('tenant-quota').blur();
  await expect(page.getByTestId('tenant-error')).toContainText('Disk quota:');
  // How long it keeps ended runs: the platform's default (forever) until it has its own.
  await expect(globex.getByTestId('tenant-retention')).toHaveAttribute('placeholder', 'default (forever)');
  await globex.getByTestId('tenant-retention').fill('90');
  await globex.getByTestId('tenant-retention').blur();
  await expect.poll(async () => {
    const tenants = await api(page, 'GET', '/api/v1/admin/tenants');
    return tenants.body.find((t) => t.slug === 'globex').effective_retention_days;
  }).toBe(90);
  await expect(globex.getByTestId('tenant-retention')).toHaveValue('90');

  await page.getByTestId('user-name').fill('gina');
  await page.getByTestId('user-password').fill('short');
  await page.getByTestId('user-create').click();
  await expect(page.getByTestId('user-error')).toContainText('at least 10 characters');
  await page.getByTestId('user-password').fill('gina-password-1');
  await page.getByTestId('user-create').click();
  await expect(page.getByTestId('user-row').filter({ hasText: 'gina' })).toContainText('password');
  await page.screenshot({ path: shot('admin.png'), fullPage: true });

  // The new tenant gets its first tenant admin from its Members page.
  await page.getByTestId('tenant-switcher').selectOption('globex');
  await page.getByTestId('nav').getByRole('link', { name: 'Members' }).click();
  await page.getByTestId('member-username').fill('gina');
  await page.getByTestId('member-role').selectOption('tenant_admin');
  await page.getByTestId('member-add').click();
  await expect(page.getByTestId('member-row').filter({ hasText: 'gina' }).getByRole('combobox')).toHaveValue('tenant_admin');
  await page.getByTestId('tenant-switcher').selectOption('demo');
});

test('platform admins reset passwords and disable users; users change their own password', async ({ browser, page }) => {
  await signIn(page);
  expect([201, 409]).toContain((await api(page, 'POST', '/api/v1/admin/users', { username: 'pat', password: 'pat-password-1' })).status);
  expect([200, 201]).toContain((await api(page, 'PUT', '/api/v1/tenants/demo/members/pat', { role: 'viewer' })).status);
  await page.getByTestId('nav').getByRole('link', { name: 'Admin' }).click();
  await page.getByTestId('password-reset-user').selectOption('pat');
  await page.getByTestId('password-reset-new').fill('pat-password-2');
  await page.getByTestId('password-reset-submit').click();
  await expect(page.getByTestId('password-reset-done')).toContainText('pat');

  // Pat changes it on the profile page: the current one is required.
  const context = await browser.newContext();
  const pat = await context.newPage();
  await signInAs(pat, 'pat', 'pat-password-2');
  await pat.getByTestId('user').click();
  await pat.getByTestId('menu-profile').click();
  await pat.getByTestId('password-current').fill('not-my-password');
  await pat.getByTestId('password-new').fill('pat-password-3');
  await pat.getByTestId('password-change').click();
  await expect(pat.getByTestId('password-error')).toContainText('not your current password');
  await pat.getByTestId('password-current').fill('pat-password-2');
  await pat.getByTestId('password-new').fill('pat-password-3');
  await pat.getByTestId('password-change').click();
  await expect(pat.getByTestId('password-changed')).toBeVisible();
  expect((await api(pat, 'GET', '/api/v1/me')).status).toBe(200);

  // Disabled, pat's session stops at once; enabled again for other runs.
  const row = page.getByTestId('user-row').filter({ hasText: 'pat' });
  await row.getByTestId('user-toggle').click();
  await expect(row).toHaveAttribute('data-disabled', 'true');
  expect((await api(pat, 'GET', '/api/v1/me')).status).toBe(401);
  await row.getByTestId('user-toggle').click();
  await expect(row).toHaveAttribute('data-disabled', 'false');
  await context.close();
});
