// Stops the server, the OIDC provider and the AWS emulator global-setup.js started, by its PID, and removes its data.
const fs = require('node:fs');
const path = require('node:path');

module.exports = async () => {
  const file = path.join(__dirname, '.server.json');
  if (!fs.existsSync(file)) return;
  const { pids, dataDir } = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(file, { force: true });
};
