// Starts the built `trellis` binary on a free loopback port with a fresh data
// dir, waits until it is ready, and hands its URL to the tests.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

module.exports = async () => {
  const bin = process.env.TRELLIS_BIN || path.resolve(__dirname, '../target/debug/trellis');
  const siteRoot = process.env.TRELLIS_SITE_ROOT || path.resolve(__dirname, '../target/site');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-e2e-'));
  // Always the embedded SQLite store, whatever the caller's environment says.
  const env = { ...process.env, TRELLIS_ADMIN_PASSWORD: 'e2e-password' };
  delete env.DATABASE_URL;
  const server = spawn(
    bin,
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--site-root', siteRoot],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('trellis did not start within 30 s')), 30_000);
    server.on('exit', (code) => reject(new Error(`trellis exited with ${code}`)));
    readline.createInterface({ input: server.stdout }).on('line', (line) => {
      const m = line.match(/^Trellis is running at (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const ready = await fetch(`${url}/readyz`);
  if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`);

  process.env.TRELLIS_URL = url;
  fs.writeFileSync(path.join(__dirname, '.server.json'), JSON.stringify({ pid: server.pid, dataDir }));
};
