// Stream mode (events) through the official DingTalk Node SDKs: the storage
// SDK (@alicloud/dingtalk) subscribes the app to a space's events, and the
// UNMODIFIED Stream SDK (`dingtalk-stream`, class DWClient) receives them from
// orgdrive's gateway. DWClient hard-codes `https://api.dingtalk.com` for its
// gateway call (constants.GATEWAY_URL) and makes it with the default axios
// instance, so an axios request interceptor rewriting that prefix is all it
// takes to point it at orgdrive (see README.md, "Stream mode").
//
//   cd tests/sdk-node && npm ci && ORGDRIVE_BIN=/path/to/orgdrive node --test stream.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

// The same module system as the `dingtalk-stream` import below (here ESM), so
// this is the very axios instance the SDK calls: `import` and `require` of
// axios give two different instances (axios ships separate ESM and CJS builds).
import axios from 'axios';
import { DWClient, EventAck, GATEWAY_URL } from 'dingtalk-stream';

import { provision, startOrgdrive, stopOrgdrive, TEST_TIMEOUT } from './harness.mjs';

const require = createRequire(import.meta.url);
const storage = require('@alicloud/dingtalk/storage_1_0');
const oauth2 = require('@alicloud/dingtalk/oauth2_1_0');
const { Config } = require('@alicloud/openapi-client');
const { RuntimeOptions } = require('@alicloud/tea-util');

const DINGTALK = 'https://api.dingtalk.com';
const EVENT_WAIT = 8_000; // per frame; both fit in TEST_TIMEOUT

const s = {}; // shared state of the run: server, clients, ids, received frames

const h = (Cls) => new Cls({ xAcsDingtalkAccessToken: s.token });
const rt = () => new RuntimeOptions({});

/**
 * The received EVENT frames, and a way to wait for the next one: the listener
 * pushes every frame, `nextFrame()` resolves with the oldest one not taken yet.
 */
const inbox = {
  frames: [],
  taken: 0,
  waiters: [],
  push(frame) {
    this.frames.push(frame);
    this.waiters.splice(0).forEach((wake) => wake());
  },
  async nextFrame(ms = EVENT_WAIT) {
    const deadline = Date.now() + ms;
    while (this.taken >= this.frames.length) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no EVENT frame within ${ms} ms (received ${this.frames.length}: `
          + `${JSON.stringify(this.frames.map((f) => f.headers?.eventType))})`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.frames[this.taken++];
  },
};

before(async () => {
  s.orgdrive = await startOrgdrive('orgdrive-sdk-node-stream-');
  s.endpoint = s.orgdrive.endpoint;
  Object.assign(s, await provision(s.orgdrive, { org: 'Node Stream', app: 'Node Stream app' }));

  const config = () => new Config({ protocol: 'http', endpoint: s.endpoint });
  s.oauth2 = new oauth2.default(config());
  s.storage = new storage.default(config());

  // Point the unmodified Stream SDK at orgdrive: rewrite DingTalk's API prefix
  // on the axios instance it uses. Counted, to show the SDK's call came here.
  const base = `http://${s.endpoint}`;
  s.rewritten = [];
  s.interceptor = axios.interceptors.request.use((config) => {
    if (config.url?.startsWith(`${DINGTALK}/`)) {
      config.url = base + config.url.slice(DINGTALK.length);
      s.rewritten.push(config.url);
    }
    return config;
  });
});

after(async () => {
  if (s.interceptor !== undefined) axios.interceptors.request.eject(s.interceptor);
  if (s.client) {
    const socketClosed = s.client.connected
      ? new Promise((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        timer.unref();
        const poll = setInterval(() => {
          if (!s.client.connected) { clearInterval(poll); clearTimeout(timer); resolve(); }
        }, 20);
        poll.unref();
      })
      : Promise.resolve();
    s.client.disconnect();
    await socketClosed;
  }
  await stopOrgdrive(s.orgdrive);
});

test('GetAccessToken, AddSpace, SubscribeEvent (SPACE) through the storage SDK',
  { timeout: TEST_TIMEOUT }, async () => {
    const tokenReply = await s.oauth2.getAccessToken(new oauth2.GetAccessTokenRequest({
      appKey: s.app.appKey, appSecret: s.app.appSecret,
    }));
    s.token = tokenReply.body.accessToken;
    assert.equal(typeof s.token, 'string');

    const space = (await s.storage.addSpaceWithOptions(
      new storage.AddSpaceRequest({
        unionId: s.unionId,
        option: new storage.AddSpaceRequestOption({
          name: 'Stream space', scene: 'nodeStream', sceneId: '1', ownerType: 'USER',
        }),
      }),
      h(storage.AddSpaceHeaders), rt())).body.space;
    assert.match(space.id, /^\d+$/);
    s.spaceId = space.id;

    const reply = await s.storage.subscribeEventWithOptions(
      new storage.SubscribeEventRequest({ unionId: s.unionId, scope: 'SPACE', scopeId: s.spaceId }),
      h(storage.SubscribeEventHeaders), rt());
    assert.equal(reply.statusCode, 200);
    assert.equal(reply.body.success, true);
  });

test('the unmodified DWClient, pointed at orgdrive by an axios interceptor, receives and '
  + 'acknowledges storage_dentry_created for two AddFolders, in order',
{ timeout: TEST_TIMEOUT }, async () => {
  assert.ok(s.spaceId, 'needs the subscribed space of the first test');
  assert.equal(GATEWAY_URL, `${DINGTALK}/v1.0/gateway/connections/open`,
    'the SDK still hard-codes the gateway the interceptor rewrites');

  // autoReconnect off only so that a failed connect fails the test at once
  // instead of retrying in the background; pointing it at orgdrive needs nothing.
  s.client = new DWClient({
    clientId: s.app.appKey, clientSecret: s.app.appSecret, autoReconnect: false,
  });
  s.client.registerAllEventListener((message) => {
    inbox.push(message);
    return { status: EventAck.SUCCESS, message: 'OK' };
  });
  await s.client.connect();
  assert.deepEqual(s.rewritten, [`http://${s.endpoint}/v1.0/gateway/connections/open`],
    'the SDK opened its connection through the interceptor, on the same axios instance');
  assert.equal(s.client.connected, true, 'the WebSocket to orgdrive is open');
  const opened = s.client.getConfig().endpoint; // the SDK keeps the gateway's answer here
  assert.equal(opened.endpoint, `ws://${s.endpoint}/v1.0/gateway/connections/stream`);
  assert.equal(typeof opened.ticket, 'string');

  const folders = [];
  for (const name of ['first', 'second']) {
    const folder = (await s.storage.addFolderWithOptions(
      s.spaceId, '0', new storage.AddFolderRequest({ unionId: s.unionId, name }),
      h(storage.AddFolderHeaders), rt())).body.dentry;
    assert.equal(folder.name, name);
    folders.push(folder);
  }

  const eventIds = new Set();
  for (const folder of folders) {
    const frame = await inbox.nextFrame();
    assert.equal(frame.specVersion, '1.0');
    assert.equal(frame.type, 'EVENT');
    assert.equal(frame.headers.contentType, 'application/json');
    assert.equal(typeof frame.headers.messageId, 'string');
    assert.equal(frame.headers.eventType, 'storage_dentry_created');
    assert.equal(frame.headers.topic, 'storage_dentry_created');
    assert.equal(frame.headers.eventCorpId, s.corpId);
    assert.equal(typeof frame.data, 'string', 'data is JSON text');
    const event = JSON.parse(frame.data);
    assert.equal(event.eventType, 'storage_dentry_created');
    assert.equal(typeof event.eventId, 'string');
    assert.ok(event.eventId.length > 0, 'each event has an eventId');
    assert.equal(frame.headers.eventId, event.eventId);
    assert.ok(!eventIds.has(event.eventId), 'eventIds are unique');
    eventIds.add(event.eventId);
    assert.equal(event.spaceId, s.spaceId);
    assert.equal(event.corpId, s.corpId);
    assert.equal(event.dentryId, folder.id, `the event of "${folder.name}", in commit order`);
    assert.equal(event.name, folder.name);
    assert.equal(event.parentId, '0');
    assert.equal(event.type, 'FOLDER');
    assert.equal(event.operatorId, s.unionId);
  }

  // Events go out one at a time, the next only once the previous one was
  // acknowledged with code 200, so the second frame proves the first ack; a
  // refused ack of the second would have it sent again after 1 s.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.deepEqual(inbox.frames.slice(2).map((f) => f.data), [], 'no redelivery');
});
