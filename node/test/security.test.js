'use strict';
// Passwords through the Node binding: config fields, Auth errors, and what
// the cache shows (TLS is covered by core/tests/security.rs: the binding
// only passes the options tree).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cache } = require('..');
const { startRedis } = require('./helpers');

const PASSWORD = 'pw-SENTINEL-123';
let server;
const caches = [];

function open(options) {
  const c = new Cache({ url: server.url, ...options });
  caches.push(c);
  return c;
}

before(async () => {
  server = await startRedis(['--requirepass', PASSWORD]);
});

after(async () => {
  for (const c of caches) c.close();
  await server.stop();
});

test('redis.password in the options tree works and is never shown', async () => {
  const c = open({ redis: { password: PASSWORD } });
  await c.set('sec:1', 'v');
  assert.deepEqual(await c.get('sec:1'), Buffer.from('v'));
  assert.ok(c.configJson().includes('"password": "***"'));
  for (const text of [c.configJson(), JSON.stringify(c.stats()), c.statsPrometheus()]) {
    assert.ok(!text.includes('SENTINEL'), text);
  }
});

test('a wrong or missing password rejects with NC_AUTH, without the password', async () => {
  for (const options of [{ redis: { password: `x${PASSWORD}` } }, {}]) {
    const c = open(options);
    await assert.rejects(c.get('sec:1'), (err) => {
      assert.equal(err.code, 'NC_AUTH', `${err.code}: ${err.message}`);
      assert.ok(!err.message.includes('SENTINEL'), err.message);
      return true;
    });
  }
  assert.throws(
    () => new Cache({ url: server.url.replace('redis://', `redis://u:${PASSWORD}@`) + ':bad' }),
    (err) => err.code === 'NC_CONFIG' && !err.message.includes('SENTINEL'),
  );
});
