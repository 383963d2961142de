// The app under its Content-Security-Policy: every main page loads,
// hydrates and streams live without the browser refusing anything, and a
// script the page did not send (no nonce) is refused.
const { test, expect } = require('@playwright/test');

const { url, signIn, api } = require('../helpers');

// Collects every policy violation in `page`: the DOM event (reported
// through a binding the policy cannot block) and Chromium's console errors.
async function watchViolations(page) {
  const violations = [];
  await page.exposeFunction('reportCspViolation', (v) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${document.location.pathname}`);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

async function hydrated(page) {
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
}

test('the main pages work under the Content-Security-Policy', async ({ page }) => {
  test.setTimeout(90_000);
  const violations = await watchViolations(page);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  const login = await page.goto(`${url()}/login`);
  const policy = login.headers()['content-security-policy'];
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}' 'wasm-unsafe-eval'/);
  expect(policy).not.toContain('unsafe-inline');
  await hydrated(page);
  await expect(page.getByTestId('sso')).toBeVisible();

  await signIn(page);
  await hydrated(page);
  const list = page.getByTestId('process-list');
  await expect(list).toContainText('Daily revenue by country');

  // The editor, with its canvas.
  await page.getByTestId('process-row').filter({ hasText: 'Daily revenue by country' }).getByRole('link').click();
  await expect(page.getByTestId('editor')).toBeVisible();
  await expect(page.getByTestId('canvas')).toBeVisible();

  // A run view, live over server-sent events until the run ends.
  const processes = await api(page, 'GET', '/api/v1/tenants/demo/processes');
  const daily = processes.body.find((p) => p.name === 'Daily revenue by country');
  const started = await api(page, 'POST', `/api/v1/tenants/demo/processes/${daily.id}/runs`, {});
  expect(started.status).toBe(201);
  await page.goto(`${url()}/runs/${started.body.id}`);
  await hydrated(page);
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', /succeeded|failed/, { timeout: 20_000 });

  // The other pages of the navigation, each loaded afresh.
  for (const path of ['/processes', '/runs', '/schedules', '/datasets', '/files', '/connections', '/alerts', '/members', '/audit', '/admin', '/profile']) {
    await page.goto(`${url()}${path}`);
    await hydrated(page);
  }

  expect(violations).toEqual([]);
  expect(errors).toEqual([]);
});

test('a script without the page nonce is refused', async ({ page }) => {
  const violations = await watchViolations(page);
  await page.goto(`${url()}/login`);
  await hydrated(page);
  // What an injected `<script>` would be: inline, without this response's nonce.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.injected = true;';
    document.body.appendChild(script);
  });
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  expect(violations.join('\n')).toContain('script-src');
  expect(await page.evaluate(() => window.injected === true)).toBe(false);
});
