// A Node test setup for an app's own tests against orgdrive, to copy into a
// project: starts orgdrive `--ephemeral` with a seed file (every credential
// known in advance), resets it to the seed, arms faults. orgdrive's test
// command runs example.test.mjs with it.
//
//   ORGDRIVE_BIN=/path/to/orgdrive node --test     # else `orgdrive` on the PATH

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ADMIN_TOKEN = 'example-admin-token-for-tests-only-0123456789';
const SEED = process.env.ORGDRIVE_SEED ?? fileURLToPath(new URL('../seed.json', import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts orgdrive; resolves to `{ endpoint, stop() }` once it is ready. */
export async function startOrgdrive() {
  const endpoint = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.env.ORGDRIVE_BIN ?? 'orgdrive', [
    'serve', '--ephemeral', '--seed', SEED, '--listen', endpoint,
    '--admin-token', ADMIN_TOKEN, '--allow-faults',
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('orgdrive was not ready within 30 s')), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ready in')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`orgdrive exited (${code}) before it was ready`));
    });
  });
  const stop = () => new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
  return { endpoint, stop };
}

/** A call to orgdrive's admin API (reset, faults, journal). */
export async function admin(endpoint, method, path, body) {
  const answer = await fetch(`http://${endpoint}/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${await answer.text()}`);
  return answer.json();
}

/** Back to the seed, no fault armed: call it before each test. */
export async function resetOrgdrive(endpoint) {
  await admin(endpoint, 'POST', '/reset');
  await admin(endpoint, 'DELETE', '/faults');
}
