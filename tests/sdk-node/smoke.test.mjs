// Smoke test of orgdrive's upload/download path, and of deleting what it made,
// through the official DingTalk Node SDK (@alicloud/dingtalk), changing nothing
// but the endpoint. The server binary comes from $ORGDRIVE_BIN; identities are
// provisioned through the admin HTTP API; every storage call goes through the
// SDK, and only the raw PUT/GET of bytes to the signed URLs uses global fetch,
// as a DingTalk client would.
//
//   cd tests/sdk-node && npm ci && ORGDRIVE_BIN=/path/to/orgdrive npm test

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

import { provision, startOrgdrive, stopOrgdrive, TEST_TIMEOUT } from './harness.mjs';

// The SDK's per-product entry points (`@alicloud/dingtalk/storage_1_0`) are
// CommonJS files without an "exports" map, so an ESM `import` needs a ".js"
// suffix; require() takes the documented module names as they are.
const require = createRequire(import.meta.url);
const storage = require('@alicloud/dingtalk/storage_1_0');
const oauth2 = require('@alicloud/dingtalk/oauth2_1_0');
const { Config } = require('@alicloud/openapi-client');
const { RuntimeOptions } = require('@alicloud/tea-util');

const StorageClient = storage.default;
const OAuth2Client = oauth2.default;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

const s = {}; // shared state of the run: server, clients, ids

/** An SDK headers object of class `Cls` carrying the app's access token. */
const h = (Cls) => new Cls({ xAcsDingtalkAccessToken: s.token });
const rt = () => new RuntimeOptions({});

before(async () => {
  s.orgdrive = await startOrgdrive('orgdrive-sdk-node-');
  s.endpoint = s.orgdrive.endpoint;
  const { corpId, app, user, unionId } = await provision(s.orgdrive);
  s.corpId = corpId;
  s.app = app;
  s.user = user;
  s.unionId = unionId;

  const config = () => new Config({ protocol: 'http', endpoint: s.endpoint });
  s.oauth2 = new OAuth2Client(config());
  s.storage = new StorageClient(config());
});

after(async () => {
  await stopOrgdrive(s.orgdrive);
});

// ---- SDK helpers --------------------------------------------------------------

async function uploadInfo() {
  const request = new storage.GetFileUploadInfoRequest({
    unionId: s.unionId, protocol: 'HEADER_SIGNATURE', multipart: false,
  });
  const reply = await s.storage.getFileUploadInfoWithOptions(
    s.spaceId, request, h(storage.GetFileUploadInfoHeaders), rt());
  return reply.body;
}

async function commit(uploadKey, name, size) {
  const request = new storage.CommitFileRequest({
    unionId: s.unionId, uploadKey, name, parentId: s.folderId,
    option: new storage.CommitFileRequestOption({ size }),
  });
  const reply = await s.storage.commitFileWithOptions(
    s.spaceId, request, h(storage.CommitFileHeaders), rt());
  return reply.body.dentry;
}

async function downloadInfo(dentryId) {
  const request = new storage.GetFileDownloadInfoRequest({ unionId: s.unionId });
  const reply = await s.storage.getFileDownloadInfoWithOptions(
    s.spaceId, dentryId, request, h(storage.GetFileDownloadInfoHeaders), rt());
  return reply.body;
}

async function put(signature, bytes) {
  const response = await fetch(signature.resourceUrls[0], {
    method: 'PUT', headers: signature.headers ?? {}, body: bytes,
  });
  const text = await response.text();
  assert.equal(response.status, 200, `PUT ${signature.resourceUrls[0]} -> ${response.status} ${text}`);
  return response;
}

async function get(signature, extraHeaders = {}) {
  const response = await fetch(signature.resourceUrls[0], {
    headers: { ...(signature.headers ?? {}), ...extraHeaders },
  });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

// ---- tests ----------------------------------------------------------------------

test('GetAccessToken, AddSpace, AddFolder', { timeout: TEST_TIMEOUT }, async () => {
  const tokenReply = await s.oauth2.getAccessToken(new oauth2.GetAccessTokenRequest({
    appKey: s.app.appKey, appSecret: s.app.appSecret,
  }));
  assert.equal(tokenReply.statusCode, 200);
  assert.match(tokenReply.body.accessToken, /^\S{32}$/);
  assert.equal(tokenReply.body.expireIn, 7200);
  s.token = tokenReply.body.accessToken;

  const spaceReply = await s.storage.addSpaceWithOptions(
    new storage.AddSpaceRequest({
      unionId: s.unionId,
      option: new storage.AddSpaceRequestOption({
        name: 'Node SDK space', scene: 'nodeSmoke', sceneId: '1', ownerType: 'USER',
        capabilities: new storage.AddSpaceRequestOptionCapabilities({
          canSearch: true, canRename: true, canRecordRecentFile: true,
        }),
      }),
    }),
    h(storage.AddSpaceHeaders), rt());
  const space = spaceReply.body.space;
  assert.equal(space.name, 'Node SDK space');
  assert.equal(space.corpId, s.corpId);
  assert.equal(space.ownerType, 'USER');
  assert.equal(space.ownerId, s.unionId);
  assert.match(space.id, /^\d+$/);
  s.spaceId = space.id;

  const folderReply = await s.storage.addFolderWithOptions(
    s.spaceId, '0',
    new storage.AddFolderRequest({ unionId: s.unionId, name: 'inbox' }),
    h(storage.AddFolderHeaders), rt());
  const folder = folderReply.body.dentry;
  assert.equal(folder.type, 'FOLDER');
  assert.equal(folder.name, 'inbox');
  assert.equal(folder.parentId, '0');
  assert.equal(folder.spaceId, s.spaceId);
  s.folderId = folder.id;
});

test('single upload: GetFileUploadInfo, PUT, CommitFile, GetDentry, ListDentries, download',
  { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(s.folderId, 'needs the space and folder of the first test');
    const data = randomBytes(1 << 20);

    const info = await uploadInfo();
    assert.equal(info.protocol, 'HEADER_SIGNATURE');
    assert.equal(info.storageDriver, 'DINGTALK');
    assert.equal(typeof info.uploadKey, 'string');
    const signature = info.headerSignatureInfo;
    assert.equal(signature.resourceUrls.length, 1);
    assert.equal(signature.expirationSeconds, 900);
    assert.equal(typeof signature.headers, 'object');
    await put(signature, data);

    const file = await commit(info.uploadKey, 'random.bin', data.length);
    assert.equal(file.type, 'FILE');
    assert.equal(file.name, 'random.bin');
    assert.equal(file.size, data.length);
    assert.equal(file.parentId, s.folderId);
    assert.equal(file.path, '/inbox/random.bin');
    assert.equal(file.version, 1);
    s.file = file;
    s.fileData = data;
    s.usedUploadKey = info.uploadKey;

    const got = (await s.storage.getDentryWithOptions(
      s.spaceId, file.id, new storage.GetDentryRequest({ unionId: s.unionId }),
      h(storage.GetDentryHeaders), rt())).body.dentry;
    assert.equal(got.id, file.id);
    assert.equal(got.name, 'random.bin');
    assert.equal(got.size, data.length);
    assert.equal(got.parentId, s.folderId);
    assert.equal(got.type, 'FILE');

    const listing = (await s.storage.listDentriesWithOptions(
      s.spaceId, new storage.ListDentriesRequest({ unionId: s.unionId, parentId: s.folderId }),
      h(storage.ListDentriesHeaders), rt())).body;
    assert.deepEqual(listing.dentries.map((d) => [d.id, d.name, d.size]),
      [[file.id, 'random.bin', data.length]]);
    assert.ok(!listing.nextToken, 'one entry fits one page');

    const download = await downloadInfo(file.id);
    assert.equal(download.protocol, 'HEADER_SIGNATURE');
    const { response, body } = await get(download.headerSignatureInfo);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(data.length));
    assert.equal(body.length, data.length);
    assert.equal(sha256(body), sha256(data));
    assert.ok(body.equals(data), 'downloaded bytes equal the uploaded ones');
  });

test('Range request on the download URL answers 206 with 100 bytes', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(s.file, 'needs the file of the single-upload test');
  const download = await downloadInfo(s.file.id);
  const { response, body } = await get(download.headerSignatureInfo, { Range: 'bytes=0-99' });
  assert.equal(response.status, 206);
  assert.equal(body.length, 100);
  assert.equal(response.headers.get('content-range'), `bytes 0-99/${s.fileData.length}`);
  assert.ok(body.equals(s.fileData.subarray(0, 100)));
});

test('multipart: InitMultipartFileUpload, part URLs for [2, 1], PUT out of order, CommitFile, download',
  { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(s.folderId, 'needs the space and folder of the first test');
    const init = (await s.storage.initMultipartFileUploadWithOptions(
      s.spaceId, new storage.InitMultipartFileUploadRequest({ unionId: s.unionId }),
      h(storage.InitMultipartFileUploadHeaders), rt())).body;
    assert.equal(init.storageDriver, 'DINGTALK');
    assert.equal(typeof init.uploadKey, 'string');

    const infos = (await s.storage.getMultipartFileUploadInfosWithOptions(
      new storage.GetMultipartFileUploadInfosRequest({
        unionId: s.unionId, uploadKey: init.uploadKey, partNumbers: [2, 1],
      }),
      h(storage.GetMultipartFileUploadInfosHeaders), rt())).body.multipartHeaderSignatureInfos;
    const urls = new Map(infos.map((i) => [i.partNumber, i.headerSignatureInfo]));
    assert.deepEqual([...urls.keys()].sort(), [1, 2]);

    const part1 = randomBytes(300_000);
    const part2 = randomBytes(123_457);
    await put(urls.get(2), part2);
    await put(urls.get(1), part1);

    const whole = Buffer.concat([part1, part2]);
    const file = await commit(init.uploadKey, 'joined.bin', whole.length);
    assert.equal(file.size, whole.length);
    assert.equal(file.parentId, s.folderId);
    s.joined = file;

    const { response, body } = await get((await downloadInfo(file.id)).headerSignatureInfo);
    assert.equal(response.status, 200);
    assert.equal(sha256(body), sha256(whole));
    assert.ok(body.equals(whole), 'download equals part 1 + part 2');
  });

test('CommitFile again with a used uploadKey rejects with paramError.uploadKey (400)',
  { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(s.usedUploadKey, 'needs the upload key of the single-upload test');
    await assert.rejects(commit(s.usedUploadKey, 'again.bin', s.fileData.length), (err) => {
      // The SDK's gateway turns any 4xx/5xx into a tea ResponseError: `code` is the
      // body's code, the HTTP status is both err.statusCode and err.data.statusCode.
      assert.equal(err.code, 'paramError.uploadKey');
      assert.equal(err.statusCode, 400);
      assert.equal(err.data.statusCode, 400);
      assert.equal(err.data.code, 'paramError.uploadKey');
      assert.equal(typeof err.data.requestid, 'string');
      assert.match(err.message, /^paramError\.uploadKey: code: 400, /);
      return true;
    });
  });

// ---- cleanup through the API -----------------------------------------------------

async function deleteDentry(dentryId) {
  const reply = await s.storage.deleteDentryWithOptions(
    s.spaceId, dentryId, new storage.DeleteDentryRequest({ unionId: s.unionId, toRecycleBin: false }),
    h(storage.DeleteDentryHeaders), rt());
  return reply.body;
}

async function getDentry(dentryId) {
  return (await s.storage.getDentryWithOptions(
    s.spaceId, dentryId, new storage.GetDentryRequest({ unionId: s.unionId }),
    h(storage.GetDentryHeaders), rt())).body.dentry;
}

test('DeleteDentry removes the files, then the empty folder; they are gone and the space is empty',
  { timeout: TEST_TIMEOUT }, async () => {
    assert.ok(s.file && s.joined, 'needs the files of the upload tests');
    for (const file of [s.file, s.joined]) {
      const deleted = await deleteDentry(file.id);
      assert.equal(deleted.async, false, 'a file is deleted at once');
      assert.equal(deleted.taskId, undefined);
    }
    const folder = await deleteDentry(s.folderId);
    assert.equal(folder.async, false, 'an empty folder is deleted at once');

    for (const id of [s.file.id, s.joined.id, s.folderId]) {
      await assert.rejects(getDentry(id), (err) => {
        assert.equal(err.code, 'paramError.dentryId');
        assert.equal(err.statusCode, 400);
        return true;
      });
    }
    const listing = (await s.storage.listDentriesWithOptions(
      s.spaceId, new storage.ListDentriesRequest({ unionId: s.unionId, parentId: '0' }),
      h(storage.ListDentriesHeaders), rt())).body;
    assert.deepEqual(listing.dentries, []);
    const space = (await s.storage.getSpaceWithOptions(
      s.spaceId, new storage.GetSpaceRequest({ unionId: s.unionId }),
      h(storage.GetSpaceHeaders), rt())).body.space;
    assert.equal(space.usedQuota, 0, 'deleted for good: nothing is counted any more');
  });
