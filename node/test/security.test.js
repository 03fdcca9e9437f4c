'use strict';
// Passwords through the Node binding: config fields, Auth errors, and what
// the cache shows (TLS is covered by core/tests/security.rs: the binding
// only passes the options tree).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Cache } = require('..');
const { startRedis, cacheFactory, assertNoSecret } = require('./helpers');

const PASSWORD = 'pw-SENTINEL-123';
let server;
const caches = cacheFactory(Cache, () => server.url);
const open = (options) => caches.open(options);

before(async () => {
  server = await startRedis(['--requirepass', PASSWORD]);
});

after(async () => {
  caches.closeAll();
  await server.stop();
});

test('redis.password in the options tree works and is never shown', async () => {
  const c = open({ redis: { password: PASSWORD } });
  await c.set('sec:1', 'v');
  assert.deepEqual(await c.get('sec:1'), Buffer.from('v'));
  assert.ok(c.configJson().includes('"password": "***"'));
  for (const text of [c.configJson(), JSON.stringify(c.stats()), c.statsPrometheus()]) {
    assertNoSecret(text, PASSWORD);
  }
});

test('a wrong or missing password rejects with NC_AUTH, without the password', async () => {
  for (const options of [{ redis: { password: `x${PASSWORD}` } }, {}]) {
    const c = open(options);
    await assert.rejects(c.get('sec:1'), (err) => {
      assert.equal(err.code, 'NC_AUTH', `${err.code}: ${err.message}`);
      assertNoSecret(err.message, PASSWORD);
      return true;
    });
  }
  assert.throws(
    () => new Cache({ url: server.url.replace('redis://', `redis://u:${PASSWORD}@`) + ':bad' }),
    (err) => {
      assert.equal(err.code, 'NC_CONFIG');
      assertNoSecret(err.message, PASSWORD);
      return true;
    },
  );
});

test('assertNoSecret fails when the secret is shown', () => {
  // The checks above can fail: a message that leaks the password is caught.
  assert.throws(() => assertNoSecret(`could not connect to redis://u:${PASSWORD}@host`, PASSWORD), /secret is shown/);
});
