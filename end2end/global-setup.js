// Starts the built `trellis` binary on a free loopback port with a fresh data
// dir, waits until it is ready, and hands its URL to the tests.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

// A port nothing listens on right now.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Starts the OpenID Connect provider (oidc/provider.mjs) and waits for it.
async function startProvider(port, redirect) {
  const provider = spawn(process.execPath, [path.join(__dirname, 'oidc', 'provider.mjs')], {
    env: { ...process.env, OIDC_PORT: String(port), OIDC_REDIRECT_URI: redirect },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('oidc-provider did not start within 20 s')), 20_000);
    provider.on('exit', (code) => reject(new Error(`oidc-provider exited with ${code}`)));
    readline.createInterface({ input: provider.stdout }).on('line', (line) => {
      if (line.startsWith('oidc-provider listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return provider;
}

// Starts the AWS emulator (server/tests/emulator/aws.py: moto plus what its
// EMR lacks) on a free port; answers the child and its URL.
async function startEmulator() {
  const python =
    process.env.TRELLIS_EMULATOR_PYTHON || path.join(os.homedir(), '.cache/trellis/tools/moto-venv/bin/python');
  const script = path.resolve(__dirname, '../server/tests/emulator/aws.py');
  const emulator = spawn(python, [script, '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the AWS emulator did not start within 30 s')), 30_000);
    emulator.on('exit', (code) => reject(new Error(`the AWS emulator exited with ${code}`)));
    readline.createInterface({ input: emulator.stdout }).on('line', (line) => {
      const m = line.match(/^ready (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { emulator, emulatorUrl: `http://127.0.0.1:${port}` };
}

module.exports = async () => {
  const bin = process.env.TRELLIS_BIN || path.resolve(__dirname, '../target/debug/trellis');
  const siteRoot = process.env.TRELLIS_SITE_ROOT || path.resolve(__dirname, '../target/site');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-e2e-'));
  // Always the embedded SQLite store, whatever the caller's environment says.
  const [port, oidcPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${oidcPort}`;
  const provider = await startProvider(oidcPort, `http://127.0.0.1:${port}/api/v1/auth/oidc/callback`);
  const { emulator, emulatorUrl } = await startEmulator();
  process.env.TRELLIS_EMULATOR_URL = emulatorUrl;
  const env = {
    ...process.env,
    TRELLIS_ADMIN_PASSWORD: 'e2e-password',
    TRELLIS_OIDC_ISSUER: issuer,
    TRELLIS_OIDC_CLIENT_ID: 'trellis',
    TRELLIS_OIDC_CLIENT_SECRET: 'trellis-test-secret',
    TRELLIS_OIDC_ROLES_CLAIM: 'trellis_roles',
    TRELLIS_OIDC_LABEL: 'Sign in with Example SSO',
    TRELLIS_EMR_POLL_MIN_SECONDS: '0.1',
    TRELLIS_EMR_POLL_MAX_SECONDS: '0.5',
    // Every spec signs in as the admin; the limiter has its own Rust tests.
    TRELLIS_LOGIN_ATTEMPTS_PER_MINUTE: '600',
    // The AWS emulator listens on loopback, which tenants may not reach
    // unless the platform allows it.
    TRELLIS_OUTBOUND_ALLOW: '127.0.0.1/32,::1/128',
    // The AWS emulator's keys are the server's own credentials: they only
    // assume the roles connections name (with the tenant's external id).
    AWS_ACCESS_KEY_ID: 'AKIAEMULATORTESTKEY1',
    AWS_SECRET_ACCESS_KEY: 'emulator-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    TRELLIS_AWS_PRINCIPAL_ARN: 'arn:aws:iam::111111111111:role/trellis-server',
  };
  // Static keys on connections stay refused, as on a default platform.
  delete env.TRELLIS_ALLOW_STATIC_AWS_KEYS;
  delete env.DATABASE_URL;
  const server = spawn(
    bin,
    ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--site-root', siteRoot],
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
  fs.writeFileSync(
    path.join(__dirname, '.server.json'),
    JSON.stringify({ pids: [server.pid, provider.pid, emulator.pid], dataDir }),
  );
};
