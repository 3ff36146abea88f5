// Tests of an app against orgdrive through the official DingTalk Node SDK
// (`npm install @alicloud/dingtalk @alicloud/openapi-client @alicloud/tea-util`),
// with the credentials of examples/seed.json. Copy, then replace these with
// your app's own tests.

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { admin, resetOrgdrive, startOrgdrive } from './orgdrive.mjs';

const require = createRequire(import.meta.url);
const storage = require('@alicloud/dingtalk/storage_1_0');
const oauth2 = require('@alicloud/dingtalk/oauth2_1_0');
const { Config } = require('@alicloud/openapi-client');
const { RuntimeOptions } = require('@alicloud/tea-util');

const APP_KEY = 'dingciapp0001';
const APP_SECRET = 'ci-app-secret-0001-change-me-for-real-use';
const UNION_ID = 'ci-alice';

let orgdrive;
let client;
let token;

before(async () => {
  orgdrive = await startOrgdrive();
  const config = () => new Config({ protocol: 'http', endpoint: orgdrive.endpoint });
  const auth = new oauth2.default(config());
  token = (await auth.getAccessToken(new oauth2.GetAccessTokenRequest({
    appKey: APP_KEY, appSecret: APP_SECRET,
  }))).body.accessToken;
  client = new storage.default(config());
});
after(() => orgdrive.stop());
beforeEach(() => resetOrgdrive(orgdrive.endpoint));

const h = (Cls) => new Cls({ xAcsDingtalkAccessToken: token });

async function sharedSpace() {
  const answer = await client.addSpaceWithOptions(new storage.AddSpaceRequest({
    unionId: UNION_ID, option: new storage.AddSpaceRequestOption({ scene: 'ci', sceneId: 'shared' }),
  }), h(storage.AddSpaceHeaders), new RuntimeOptions({}));
  return answer.body.space.id;
}

async function names(spaceId) {
  const answer = await client.listDentriesWithOptions(spaceId, new storage.ListDentriesRequest({
    unionId: UNION_ID, parentId: '0',
  }), h(storage.ListDentriesHeaders), new RuntimeOptions({}));
  return answer.body.dentries.map((d) => d.name).sort();
}

test('the seeded files are there', async () => {
  assert.deepEqual(await names(await sharedSpace()), ['docs', 'images']);
});

test('a folder made by one test is gone in the next', async () => {
  const spaceId = await sharedSpace();
  await client.addFolderWithOptions(spaceId, '0', new storage.AddFolderRequest({
    unionId: UNION_ID, name: 'scratch',
  }), h(storage.AddFolderHeaders), new RuntimeOptions({}));
  assert.deepEqual(await names(spaceId), ['docs', 'images', 'scratch']);
  await resetOrgdrive(orgdrive.endpoint);
  assert.deepEqual(await names(spaceId), ['docs', 'images'], 'the space keeps its id across a reset');
});

test('the app sees an armed DingTalk error', async () => {
  await admin(orgdrive.endpoint, 'POST', '/faults', {
    kind: 'error', operation: 'ListDentries', code: 'operationTimeout', count: 1,
  });
  const spaceId = await sharedSpace();
  await assert.rejects(names(spaceId), (err) => err.code === 'operationTimeout' && err.statusCode === 503);
  assert.deepEqual(await names(spaceId), ['docs', 'images']);
});
