'use strict';
// nearcache/keyv beyond @keyv/test-suite (node/vitest/): cache-manager on
// top of Keyv on top of KeyvNearcache, L1 and invalidation underneath, who
// closes the cache, clear() without a namespace, TTLs.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Keyv } = require('keyv');
const { createCache } = require('cache-manager');
const { Cache } = require('nearcache');
const { KeyvNearcache } = require('nearcache/keyv'); // through package.json "exports"
const { startRedis, eventually, cacheFactory, assertCode, assertNoSecret } = require('./helpers');

let server;
const caches = cacheFactory(Cache, () => server.url);
before(async () => {
  server = await startRedis();
});
after(async () => {
  caches.closeAll();
  await server.stop();
});

let n = 0;
const ns = () => `kv${process.pid}x${n++}`;

test('cache-manager reads through L1 and sees other processes writes', async () => {
  const namespace = ns();
  const mine = caches.open();
  const theirs = caches.open(); // another process, as far as L1 is concerned
  const manager = createCache({ stores: [new Keyv({ store: new KeyvNearcache(mine), namespace })] });
  const other = createCache({ stores: [new Keyv({ store: new KeyvNearcache(theirs), namespace })] });

  await manager.set('user:42', { name: 'Ada' }, 60_000);
  assert.deepEqual(await manager.get('user:42'), { name: 'Ada' });
  const hits = mine.stats().l1_hits;
  assert.deepEqual(await manager.get('user:42'), { name: 'Ada' });
  assert.ok(mine.stats().l1_hits > hits, 'the second read is answered by L1');
  assert.ok((await theirs.ttl(`${namespace}:user:42`)) > 50_000, 'the TTL reaches Redis');

  await other.set('user:42', { name: 'Grace' });
  await eventually(async () => (await manager.get('user:42'))?.name === 'Grace');

  let loads = 0;
  const load = async () => {
    loads++;
    return 'computed';
  };
  assert.equal(await manager.wrap('report', load, 60_000), 'computed');
  assert.equal(await manager.wrap('report', load, 60_000), 'computed');
  assert.equal(loads, 1);
  assert.equal(await other.get('report'), 'computed');

  assert.equal(await manager.del('user:42'), true);
  assert.equal(await manager.get('user:42'), undefined);
  await eventually(async () => (await other.get('user:42')) === undefined);
  await manager.clear(); // the namespace's keys, by SCAN + UNLINK
  assert.equal(await manager.get('report'), undefined);
  await eventually(async () => (await other.get('report')) === undefined);
});

test('a store opened from a URL owns its cache; one passed in stays open', async () => {
  const own = new KeyvNearcache(server.url);
  assert.equal(own.ownsCache, true);
  await own.set('kv:own', 'v');
  assert.equal(await own.get('kv:own'), 'v');
  await own.disconnect();
  await assert.rejects(own.get('kv:own'), assertCode('NC_CLOSED'));

  const shared = caches.open();
  const borrowed = new KeyvNearcache(shared);
  await new Keyv({ store: borrowed }).disconnect();
  assert.equal(String(await shared.get('kv:own')), 'v'); // still open
  await shared.delete('kv:own');

  const options = new KeyvNearcache({ url: 'redis://:hunter2@127.0.0.1:1/0', l1: { max_bytes: '1MiB' } });
  assert.equal(options.opts.dialect, 'redis');
  assertNoSecret(options.opts.url, 'hunter2');
  await options.disconnect();
});

test('clear() without a namespace deletes only keys outside every namespace, unless told', async () => {
  const cache = caches.open();
  const store = new KeyvNearcache(cache);
  const prefix = ns();
  await cache.setMany([
    [`${prefix}bare`, '1'],
    [`${prefix}:namespaced`, '2'],
  ]);
  await store.clear();
  assert.equal(await cache.get(`${prefix}bare`), null);
  assert.equal(String(await cache.get(`${prefix}:namespaced`)), '2');
  await new KeyvNearcache(cache, { noNamespaceAffectsAll: true }).clear();
  assert.equal(await cache.get(`${prefix}:namespaced`), null);
});

test('setMany groups entries by TTL; values come back as strings', async () => {
  const cache = caches.open();
  const store = new KeyvNearcache(cache);
  const p = ns();
  const entries = [
    { key: `${p}:a`, value: 'A', ttl: 60_000 },
    { key: `${p}:b`, value: Buffer.from('B') },
    { key: `${p}:c`, value: 'C', ttl: 60_000 },
  ];
  assert.deepEqual(await store.setMany(entries), [true, true, true]);
  assert.deepEqual(await store.getMany([`${p}:a`, `${p}:b`, `${p}:c`, `${p}:d`]), ['A', 'B', 'C', undefined]);
  assert.ok((await cache.ttl(`${p}:a`)) > 50_000);
  assert.equal(await cache.ttl(`${p}:b`), Infinity);
  assert.deepEqual(await store.hasMany([`${p}:a`, `${p}:d`]), [true, false]);
  assert.deepEqual(await store.getMany([]), []);
  assert.equal(await store.deleteMany([]), false);
  assert.equal(await store.deleteMany([`${p}:a`, `${p}:b`]), true);
  const seen = [];
  store.namespace = p;
  for await (const entry of store.iterator(p)) seen.push(entry);
  assert.deepEqual(seen, [[`${p}:c`, 'C']]);
});
