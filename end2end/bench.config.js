// Browser benchmarks (not part of `make test`): the same Chromium and server
// setup as the tests. Run: `npx playwright test --config bench.config.js`
// after `cargo leptos build --release` (see the README).
const base = require('./playwright.config.js');

module.exports = { ...base, testDir: './bench', testMatch: '**/*.bench.js', timeout: 300_000 };
