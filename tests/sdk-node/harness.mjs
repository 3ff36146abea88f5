// Shared by the Node SDK tests: starts the orgdrive binary named by
// $ORGDRIVE_BIN on a free port over a fresh temp data dir, talks to its admin
// HTTP API, and stops it with SIGTERM (it must exit 0).
//
// Not a test file itself: `node --test` only runs `*.test.mjs` (and the other
// default patterns), which this name matches none of.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ADMIN_TOKEN = 'sdk-node-smoke-admin-token-0123456789abcdef';
// Every Storage.* scope, as ALL_SCOPES in tests/sdk/conftest.py.
export const ALL_SCOPES = [
  'Storage.Space.Write', 'Storage.Space.Read', 'Storage.Org.Read', 'Storage.File.Write',
  'Storage.File.Read', 'Storage.UploadInfo.Read', 'Storage.DownloadInfo.Read',
  'Storage.Permission.Write', 'Storage.Permission.Read', 'Storage.RecycleBin.Read',
  'Storage.RecycleBin.Write', 'Storage.Task.Read', 'Storage.Event.Write',
];
export const TEST_TIMEOUT = 20_000;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `$ORGDRIVE_BIN serve ...`; `ready` resolves once it prints `ready in`. */
export function startServer(binary, endpoint, dataDir) {
  const child = spawn(
    binary,
    ['serve', '--listen', endpoint, '--data-dir', dataDir, '--admin-token', ADMIN_TOKEN],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const banner = [];
  const stderr = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`orgdrive did not print "ready in" within 10 s: ${banner.join('\n')}`));
    }, 10_000);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      banner.push(line);
      if (line.startsWith('ready in')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${binary}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`orgdrive exited (code ${code}, signal ${signal}) before it was ready:\n`
        + `stdout:\n${banner.join('\n')}\nstderr:\n${stderr.join('')}`));
    });
  });
  return { child, ready, banner, stderr };
}

/**
 * Starts orgdrive from $ORGDRIVE_BIN over a fresh data dir and waits until it
 * is ready (if it never is, it is killed, its data dir removed, and this
 * rejects). Resolves to `{ endpoint, dataDir, server, admin }`; `admin(method,
 * path, body)` calls `/admin/v1<path>` with the admin token and returns the
 * parsed JSON answer (asserting a 2xx). Pass the result to `stopOrgdrive`.
 */
export async function startOrgdrive(prefix = 'orgdrive-sdk-node-') {
  const binary = process.env.ORGDRIVE_BIN;
  if (!binary) {
    throw new Error('ORGDRIVE_BIN is not set: point it at an orgdrive binary, e.g. '
      + 'ORGDRIVE_BIN=$HOME/.cache/orgdrive/target/debug/orgdrive npm test');
  }
  const o = {};
  o.dataDir = await mkdtemp(join(tmpdir(), prefix));
  o.endpoint = `127.0.0.1:${await freePort()}`;
  o.server = startServer(binary, o.endpoint, o.dataDir);
  o.admin = async (method, path, body) => {
    const response = await fetch(`http://${o.endpoint}/admin/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(response.ok, `admin ${method} ${path} -> ${response.status} ${text}`);
    return JSON.parse(text);
  };
  try {
    await o.server.ready;
  } catch (err) {
    // Not ready (timed out, or exited): leave nothing behind, then fail.
    if (o.server.child.exitCode === null && o.server.child.signalCode === null) {
      o.server.child.kill('SIGKILL');
    }
    await rm(o.dataDir, { recursive: true, force: true });
    throw err;
  }
  return o;
}

/** Stops the server with SIGTERM (SIGKILL after 10 s), removes its data dir, asserts exit 0. */
export async function stopOrgdrive(o) {
  const child = o?.server?.child;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10_000).unref());
    const result = await Promise.race([exited, timeout]);
    if (result === null) child.kill('SIGKILL');
    if (o.dataDir) await rm(o.dataDir, { recursive: true, force: true });
    assert.ok(result !== null, 'orgdrive did not exit within 10 s of SIGTERM');
    assert.deepEqual(result, { code: 0, signal: null }, 'orgdrive must exit 0 on SIGTERM');
  } else if (o?.dataDir) {
    await rm(o.dataDir, { recursive: true, force: true });
  }
}

/**
 * Provisions an org, an app with every Storage.* scope and a user through the
 * admin API. Resolves to `{ corpId, app, user, unionId }`.
 */
export async function provision(o, { org = 'Node SDK smoke', app = 'Node SDK app', user = 'Ann' } = {}) {
  const created = await o.admin('POST', '/orgs', { name: org });
  const corpId = created.corpId;
  const appRecord = await o.admin('POST', `/orgs/${corpId}/apps`, { name: app, scopes: ALL_SCOPES });
  const userRecord = await o.admin('POST', `/orgs/${corpId}/users`, { name: user });
  return { corpId, app: appRecord, user: userRecord, unionId: userRecord.unionId };
}
