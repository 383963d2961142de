// What the browser tests and benchmarks share.
const { expect } = require('@playwright/test');

const url = () => process.env.TRELLIS_URL;

// Signs in as the admin the test server was started with, through the form.
async function signIn(page) {
  await page.goto(`${url()}/login`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('e2e-password');
  await page.getByTestId('login-submit').click();
  await landedHome(page, 'admin');
}

// Signing in lands on Home; the tests then start from the processes list.
async function landedHome(page, username) {
  await expect(page).toHaveURL(/:\d+\/$/);
  await expect(page.getByTestId('home')).toBeVisible();
  await expect(page.getByTestId('user')).toHaveText(username);
  await page.getByTestId('nav').getByRole('link', { name: 'Processes' }).click();
  await expect(page).toHaveURL(/\/processes$/);
}

// Signs in as `username` through the form, in the page's own browser context.
async function signInAs(page, username, password) {
  await page.goto(`${url()}/login`);
  await expect(page.getByTestId('app')).toHaveAttribute('data-hydrated', 'true');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('login-submit').click();
  await landedHome(page, username);
}

// Calls the API as the page's signed-in user, with the CSRF token a page
// script would send; answers { status, body }.
async function api(page, method, path, body) {
  const cookies = await page.context().cookies();
  const csrf = (cookies.find((c) => c.name === 'trellis_csrf') || {}).value || '';
  const response = await page.request.fetch(`${url()}${path}`, {
    method,
    headers: { 'x-csrf-token': csrf, 'content-type': 'application/json' },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status(), body: text ? JSON.parse(text) : null };
}

module.exports = { url, signIn, signInAs, api };
