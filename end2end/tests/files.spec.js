// The tenant's data folder in the browser: an editor uploads a file (with a
// progress bar), downloads it, is told before replacing it, and deletes
// it; a viewer sees and downloads the files but has nothing to change them.
const { test, expect } = require('@playwright/test');
const fs = require('node:fs');
const path = require('node:path');

const { url, signIn, signInAs, api } = require('../helpers');

const shot = (name) => path.join(__dirname, '..', 'screenshots', name);

test('an editor uploads, downloads, replaces and deletes a data file; a viewer only reads', async ({ page, browser }) => {
  await signIn(page);
  await page.getByTestId('nav').getByRole('link', { name: 'Files' }).click();
  await expect(page).toHaveURL(/\/files$/);
  await expect(page.getByTestId('upload-form')).toBeVisible();

  // A file large enough to watch its progress on a throttled upload.
  const rows = ['order_id,amount'];
  for (let i = 0; i < 60000; i += 1) rows.push(`${i},${(i % 97) + 0.5}`);
  const csv = Buffer.from(rows.join('\n') + '\n');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 400 * 1024,
  });
  await page.getByTestId('upload-file').setInputFiles({ name: 'e2e-orders.csv', mimeType: 'text/csv', buffer: csv });
  await page.getByTestId('upload-folder').fill('e2e');
  await page.getByTestId('upload-submit').click();
  const progress = page.getByTestId('upload-progress');
  await expect(progress).toBeVisible();
  await expect(progress).toContainText('Uploading e2e/e2e-orders.csv');
  await expect(page.getByTestId('upload-submit')).toBeDisabled();
  // The bar moves as the bytes go.
  await expect(progress).toContainText(/: [1-9]\d?%/, { timeout: 20000 });
  await page.screenshot({ path: shot('files-uploading.png'), fullPage: true });
  await expect(page.getByTestId('files-notice')).toContainText('Uploaded e2e/e2e-orders.csv', { timeout: 30000 });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  await expect(progress).toHaveCount(0);
  const row = page.locator('[data-testid="file-row"][data-path="e2e/e2e-orders.csv"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText(/\d+(\.\d)? kB/);
  await page.screenshot({ path: shot('files.png'), fullPage: true });

  // The download is the same bytes.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByTestId('file-download').click(),
  ]);
  expect(download.suggestedFilename()).toBe('e2e-orders.csv');
  expect(fs.readFileSync(await download.path()).equals(csv)).toBe(true);

  // The same path again: refused until "Replace" is ticked.
  await page.getByTestId('upload-file').setInputFiles({ name: 'e2e-orders.csv', mimeType: 'text/csv', buffer: Buffer.from('order_id\n1\n') });
  await page.getByTestId('upload-submit').click();
  await expect(page.getByTestId('files-error')).toContainText('already exists');
  await page.getByTestId('upload-overwrite').check();
  await page.getByTestId('upload-submit').click();
  await expect(page.getByTestId('files-notice')).toContainText('Uploaded e2e/e2e-orders.csv (11 B)');
  await expect(row).toContainText('11 B');

  // A viewer reads the list but cannot change it.
  const admin = await browser.newPage();
  await signIn(admin);
  expect([201, 409]).toContain((await api(admin, 'POST', '/api/v1/admin/users', { username: 'fiona', password: 'fiona-password-1' })).status);
  expect([200, 201]).toContain((await api(admin, 'PUT', '/api/v1/tenants/demo/members/fiona', { role: 'viewer' })).status);
  await admin.close();
  const viewer = await browser.newPage();
  await signInAs(viewer, 'fiona', 'fiona-password-1');
  await viewer.goto(`${url()}/files`);
  await expect(viewer.locator('[data-testid="file-row"][data-path="e2e/e2e-orders.csv"]')).toBeVisible();
  await expect(viewer.getByTestId('upload-form')).toHaveCount(0);
  await expect(viewer.getByTestId('file-delete')).toHaveCount(0);
  await viewer.close();

  // Deleted, it leaves the list.
  await row.getByTestId('file-delete').click();
  await expect(page.getByTestId('files-notice')).toContainText('Deleted e2e/e2e-orders.csv');
  await expect(row).toHaveCount(0);
});
