// Time to interactive of the sign-in page and of the editor, cold cache: each
// load in a fresh browser context (empty HTTP cache), from navigation start to
// the page marking itself hydrated (`data-hydrated`, set once the route's own
// part of the bundle has arrived and hydrated). Reports the median of five
// loads, unthrottled and on a simulated 10 Mbit/s, 40 ms link, with the
// wasm/js files and bytes (as transferred) each load fetched.
const { test, expect } = require('@playwright/test');

const { url, signIn } = require('../helpers');

const LOADS = 5;

async function load(browser, path, storageState, network) {
  const context = await browser.newContext({ storageState });
  const page = await context.newPage();
  if (network) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: network.latency,
      downloadThroughput: network.bytesPerSecond,
      uploadThroughput: network.bytesPerSecond,
    });
  }
  await page.goto(`${url()}${path}`);
  await page.waitForFunction(
    () => document.querySelector('[data-testid=app]')?.dataset.hydrated === 'true',
    null,
    { polling: 'raf', timeout: 120_000 },
  );
  const result = await page.evaluate(() => {
    const parts = performance
      .getEntriesByType('resource')
      .filter((e) => /\.(wasm|js)$/.test(new URL(e.name).pathname));
    return {
      interactive: performance.now(),
      files: parts.length,
      bytes: parts.reduce((sum, e) => sum + e.transferSize, 0),
    };
  });
  await context.close();
  return result;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('time to interactive, cold cache: sign-in page and editor', async ({ browser, page }) => {
  await signIn(page);
  const href = await page.getByTestId('process-row').first().getByRole('link').first().getAttribute('href');
  const storageState = await page.context().storageState();
  const anonymous = { cookies: [], origins: [] };
  const networks = [
    ['local', null],
    ['10 Mbit/s, 40 ms', { latency: 40, bytesPerSecond: (10 * 1000 * 1000) / 8 }],
  ];
  for (const [name, network] of networks) {
    for (const [label, path, state] of [['sign-in page', '/login', anonymous], ['editor', href, storageState]]) {
      const runs = [];
      for (let i = 0; i < LOADS; i++) runs.push(await load(browser, path, state, network));
      const last = runs[runs.length - 1];
      console.log(
        `${label} (${name}): interactive after ${median(runs.map((r) => r.interactive)).toFixed(0)} ms (median of ${LOADS}), ` +
          `${last.files} wasm/js files, ${(last.bytes / 1000).toFixed(0)} KB transferred`,
      );
      expect(last.files).toBeGreaterThan(0);
    }
  }
});
