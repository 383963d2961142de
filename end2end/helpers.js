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
  await expect(page).toHaveURL(/\/processes$/);
  await expect(page.getByTestId('user')).toHaveText('admin');
}

module.exports = { url, signIn };
