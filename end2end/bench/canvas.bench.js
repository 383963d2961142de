// A 1,000-node process in the editor: time to first render, and frame times
// while dragging a node and while panning, from requestAnimationFrame.
const { test, expect } = require('@playwright/test');

const { url, signIn } = require('../helpers');

function stats(deltas) {
  const sorted = [...deltas].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
  const mean = deltas.reduce((a, b) => a + b, 0) / deltas.length;
  return `frames ${deltas.length}, p50 ${pct(0.5).toFixed(1)} ms, p95 ${pct(0.95).toFixed(1)} ms, mean ${mean.toFixed(1)} ms (${(1000 / mean).toFixed(0)} fps)`;
}

async function recordFrames(page) {
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (window.__recording) requestAnimationFrame(tick);
    };
    window.__recording = true;
    requestAnimationFrame(tick);
  });
}

async function stopFrames(page) {
  return page.evaluate(() => {
    window.__recording = false;
    return window.__frames.slice(1);
  });
}

test('1,000 nodes on the canvas', async ({ page }) => {
  await signIn(page);

  const id = await page.evaluate(async () => {
    const nodes = [];
    const edges = [];
    for (let i = 0; i < 1000; i++) {
      nodes.push({ id: `n${i}`, component: 'noop', position: { x: (i % 40) * 220, y: Math.floor(i / 40) * 100 } });
      if (i > 0) edges.push({ from: `n${i - 1}`, to: `n${i}` });
    }
    const r = await fetch('/api/v1/tenants/demo/processes', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench 1000', graph: { nodes, edges } }),
    });
    return (await r.json()).id;
  });

  const started = Date.now();
  await page.goto(`${url()}/processes/${id}`);
  await expect(page.locator('[data-node-id]')).toHaveCount(1000, { timeout: 120_000 });
  console.log(`first render of 1,000 nodes: ${Date.now() - started} ms (navigation to all nodes in the DOM)`);

  const node = await page.getByTestId('node-n0').boundingBox();
  await recordFrames(page);
  await page.mouse.move(node.x + 40, node.y + 20);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) await page.mouse.move(node.x + 40 + i * 4, node.y + 20 + i * 2);
  await page.mouse.up();
  console.log(`dragging a node: ${stats(await stopFrames(page))}`);

  const canvas = await page.getByTestId('canvas').boundingBox();
  await recordFrames(page);
  await page.mouse.move(canvas.x + canvas.width - 20, canvas.y + canvas.height - 20);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) await page.mouse.move(canvas.x + canvas.width - 20 - i * 5, canvas.y + canvas.height - 20 - i * 3);
  await page.mouse.up();
  console.log(`panning: ${stats(await stopFrames(page))}`);
});
