// Alerts in the browser: a webhook channel to a real HTTP receiver, its
// signing secret shown once, a signed test delivery, rules with field
// errors, and the page kept from those who are not tenant admins.
const { test, expect } = require('@playwright/test');
const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');
const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

// An HTTP server on loopback (which the test server may reach:
// TRELLIS_OUTBOUND_ALLOW in global-setup.js) that records every request
// with its raw body and answers 204.
function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204);
      res.end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, got, url: `http://127.0.0.1:${server.address().port}/hook` });
    });
  });
}

test('a tenant admin sends a signed test alert to a webhook and manages rules', async ({ page, context }) => {
  test.setTimeout(60_000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const hook = await receiver();
  try {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await signIn(page);
    await page.getByTestId('nav').getByRole('link', { name: 'Alerts' }).click();
    await expect(page).toHaveURL(/\/alerts$/);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Alerts');

    // A bad target is named under its field; nothing is made.
    await page.getByTestId('channel-name').fill('Ops webhook');
    await page.getByTestId('channel-kind').selectOption('webhook');
    await page.getByTestId('channel-target').fill('not a url');
    await page.getByTestId('channel-add').click();
    await expect(page.getByTestId('error-target')).toContainText('an http(s) URL');
    await expect(page.getByTestId('channel-row')).toHaveCount(0);
    await expect(page.getByTestId('channel-name')).toHaveValue('Ops webhook');

    // The demo tenant's first webhook channel (the test server starts from
    // an empty data dir) makes its signing secret: shown now, with a copy button.
    await page.getByTestId('channel-target').fill(hook.url);
    await page.getByTestId('channel-add').click();
    const row = page.getByTestId('channel-row').filter({ hasText: 'Ops webhook' });
    await expect(row).toContainText(hook.url);
    await expect(page.getByTestId('error-target')).toHaveCount(0);
    const box = page.getByTestId('signing-secret-box');
    await expect(box).toContainText('it will not be shown again');
    const secret = (await page.getByTestId('signing-secret').textContent()).trim();
    expect(secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    await page.getByTestId('copy-signing-secret').click();
    await expect(page.getByTestId('copy-signing-secret')).toHaveText('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await expect(page.getByTestId('signing-secret-state')).toContainText(/created \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);

    // Send a test: the log shows it delivered (it refreshes itself while
    // the delivery is pending), and the receiver got one signed POST.
    await row.getByTestId('channel-test').click();
    await expect(page.getByTestId('test-sent')).toHaveText('Test sent — see the delivery log');
    const delivery = page.getByTestId('delivery-row').filter({ hasText: 'Ops webhook' }).first();
    await expect(delivery).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
    await expect(delivery.getByTestId('state')).toHaveText('delivered');
    await expect(delivery).toContainText('Test');
    expect(hook.got).toHaveLength(1);
    const [request] = hook.got;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/hook');
    const signature = 'sha256=' + crypto.createHmac('sha256', secret).update(request.body).digest('hex');
    expect(request.headers['x-trellis-signature-256']).toBe(signature);
    expect(request.headers['x-trellis-event']).toBe('test');
    const logged = await api(page, 'GET', '/api/v1/tenants/demo/alerts/deliveries');
    expect(logged.status).toBe(200);
    expect(request.headers['x-trellis-delivery']).toBe(logged.body[0].id);
    const body = JSON.parse(request.body.toString('utf8'));
    expect(body.test).toBe(true);
    expect(body.delivery).toBe(logged.body[0].id);

    // Shown once: after a reload the secret is gone, its date stays.
    await page.reload();
    await expect(page.getByTestId('channel-row').filter({ hasText: 'Ops webhook' })).toBeVisible();
    await expect(page.getByTestId('signing-secret')).toHaveCount(0);
    await expect(page.getByTestId('signing-secret-state')).toContainText('created');

    // Overdue needs a threshold: the error is under it and nothing is saved.
    await page.getByTestId('rule-process').selectOption('');
    await page.getByTestId('rule-trigger').selectOption('overdue');
    await expect(page.getByLabel('Threshold (minutes)')).toBeVisible();
    await page.getByTestId('rule-threshold').fill('');
    await page.getByTestId('rule-add').click();
    await expect(page.getByTestId('error-threshold')).toContainText('minutes from 1 to 10080');
    await expect(page.getByTestId('rule-row')).toHaveCount(0);
    expect((await api(page, 'GET', '/api/v1/tenants/demo/alerts/rules')).body).toEqual([]);

    // The tenant default: tell the webhook when a run fails.
    await page.getByTestId('rule-trigger').selectOption('failure');
    await expect(page.getByTestId('rule-threshold')).toHaveCount(0);
    await page.getByTestId('rule-channel').selectOption({ label: 'Ops webhook' });
    await page.getByTestId('rule-add').click();
    const rule = page.getByTestId('rule-row').filter({ hasText: 'a run fails' });
    await expect(rule).toContainText('All processes (default)');
    await expect(rule).toContainText('Ops webhook');
    await expect(page.getByTestId('error-threshold')).toHaveCount(0);
    await page.screenshot({ path: shot('alerts.png'), fullPage: true });

    // Deleting asks first.
    await rule.getByTestId('rule-delete').click();
    await rule.getByTestId('rule-delete-cancel').click();
    await expect(rule).toBeVisible();
    await rule.getByTestId('rule-delete').click();
    await rule.getByTestId('rule-delete-confirm').click();
    await expect(page.getByTestId('rule-row')).toHaveCount(0);
    await expect(page.getByTestId('no-rules')).toBeVisible();
    expect((await api(page, 'GET', '/api/v1/tenants/demo/alerts/rules')).body).toEqual([]);

    expect(errors).toEqual([]);
  } finally {
    hook.server.close();
  }
});

test('members who are not tenant admins get no Alerts page, and the API refuses them', async ({ browser, page }) => {
  const admin = await browser.newPage();
  await signIn(admin);
  expect([201, 409]).toContain((await api(admin, 'POST', '/api/v1/admin/users', { username: 'alma', password: 'alma-password-1' })).status);
  expect([200, 201]).toContain((await api(admin, 'PUT', '/api/v1/tenants/demo/members/alma', { role: 'editor' })).status);
  await admin.close();

  await signInAs(page, 'alma', 'alma-password-1');
  await expect(page.getByTestId('nav').getByRole('link', { name: 'Alerts' })).toHaveCount(0);
  await page.goto(`${url()}/alerts`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('admins-only')).toHaveText('Only tenant admins can see this page.');
  await expect(page.getByTestId('channel-form')).toHaveCount(0);
  expect((await api(page, 'GET', '/api/v1/tenants/demo/alerts/channels')).status).toBe(403);
  expect((await api(page, 'GET', '/api/v1/tenants/demo/alerts/deliveries')).status).toBe(403);
});
