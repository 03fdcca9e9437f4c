'use strict';
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Redis = require('ioredis');
const nearcache = require('..');
const { startRedis, eventually, cacheFactory, assertCode, assertNoSecret } = require('./helpers');

const { Cache } = nearcache;
let server;
let cache;
let plain; // ioredis: a client outside nearcache
const caches = cacheFactory(Cache, () => server.url);
const open = (options) => caches.open(options);

before(async () => {
  server = await startRedis();
  cache = open();
  plain = new Redis(server.url, { lazyConnect: false });
});

after(async () => {
  caches.closeAll();
  plain.disconnect();
  await server.stop();
});

// Counts the native lookups behind getLocal / get (of every cache): a hit
// answered from a kept copy makes none.
function countNativeLookups() {
  const proto = Cache.prototype;
  const original = proto._view;
  const counter = { calls: 0, restore: () => (proto._view = original) };
  proto._view = function view(...args) {
    counter.calls++;
    return original.apply(this, args);
  };
  return counter;
}

// index.js's per-cache state of its kept copies.
function keptCopies(c) {
  return c[Object.getOwnPropertySymbols(c).find((k) => k.description === 'nearcache.local')];
}

// Replaces the clock of the kept copies for one test: it reads `clock.t`,
// which the test moves.
function fakeClock(t) {
  const clock = { t: Date.now() };
  nearcache._setClock(() => clock.t);
  t.after(() => nearcache._setClock(Date.now));
  return clock;
}

describe('strings', () => {
  test('set, get, getLocal with string and Buffer keys', async () => {
    assert.equal(await cache.set('s:1', 'one'), true);
    assert.deepEqual(await cache.get('s:1'), Buffer.from('one'));
    assert.deepEqual(cache.getLocal('s:1'), Buffer.from('one'));
    assert.deepEqual(cache.getLocal(Buffer.from('s:1')), Buffer.from('one'));
    const bin = Buffer.from([0xff, 0x00, 0xfe]);
    await cache.set(bin, bin);
    assert.deepEqual(await cache.get(bin), bin);
    assert.deepEqual(await cache.get(new Uint8Array(bin)), bin);
    assert.deepEqual(cache.getLocal(bin), bin);
  });

  test('missing keys: null from get, null (cached absence) or undefined from getLocal', async () => {
    assert.equal(cache.getLocal('s:none'), undefined);
    assert.equal(await cache.get('s:none'), null);
    assert.equal(cache.getLocal('s:none'), null);
  });

  test('empty and 1 MiB+ values round-trip, also through ioredis', async () => {
    await cache.set('s:empty', '');
    assert.deepEqual(await cache.get('s:empty'), Buffer.alloc(0));
    assert.deepEqual(cache.getLocal('s:empty'), Buffer.alloc(0));
    const big = Buffer.alloc((1 << 20) + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await cache.set('s:big', big);
    assert.deepEqual(await cache.get('s:big'), big);
    assert.deepEqual(cache.getLocal('s:big'), big);
    const stored = await plain.getBuffer('s:big');
    assert.deepEqual(stored.subarray(0, 3), Buffer.from([0x00, 0x4e, 0x43]), 'compressed with the frame magic');
    assert.equal(stored.readUInt32LE(4), big.length);
  });

  test('set options: ttl (ms or string), nx, xx', async () => {
    assert.equal(await cache.set('s:nx', 'a', { nx: true }), true);
    assert.equal(await cache.set('s:nx', 'b', { nx: true }), false);
    assert.equal(await cache.set('s:xx', 'a', { xx: true }), false);
    assert.equal(await cache.set('s:nx', 'c', { xx: true, ttl: 60000 }), true);
    const left = await cache.ttl('s:nx');
    assert.ok(left > 50000 && left <= 60000, String(left));
    await cache.set('s:ttl', 'x', { ttl: '30s' });
    const ms = await plain.pttl('s:ttl');
    assert.ok(ms > 25000 && ms <= 30000, String(ms));
    await assert.rejects(cache.set('s:x', 'v', { nx: true, xx: true }), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.set('s:x', 'v', { ttl: 0 }), assertCode('NC_INVALID_ARGUMENT'));
    // Which TTLs are valid is core's rule (nearcache::args): a plain Error
    // with core's message, as in Python and C. Only a wrong type is a TypeError.
    await assert.rejects(cache.set('s:x', 'v', { ttl: 'soon' }), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.set('s:x', 'v', { ttl: -5 }), (err) => {
      assertCode('NC_INVALID_ARGUMENT')(err);
      assert.equal(err.message, 'options.ttl must be a non-negative number of milliseconds, got -5');
      return true;
    });
    await assert.rejects(cache.set('s:x', 'v', { ttl: true }), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(cache.set('s:x', 'v', 'fast'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('a refused element of a list is named by its place', async () => {
    // The names are spelled out only when an element is refused (not on
    // every call): each must still say which element it was.
    const named = (pattern) => (err) => {
      assertCode('NC_INVALID_ARGUMENT', 'TypeError')(err);
      assert.match(err.message, pattern);
      return true;
    };
    await assert.rejects(cache.getMany(['n:1', 5]), named(/^keys\[1\] must be a string or Buffer/));
    await assert.rejects(cache.command(['GET', {}]), named(/^args\[1\] must be a string or Buffer/));
    await assert.rejects(cache.setMany([['n:1', 'a'], ['n:2', {}]]), named(/^entries\[1\]\[1\] must be/));
    await assert.rejects(cache.setMany([['n:1', 'a'], [true, 'b']]), named(/^entries\[1\]\[0\] must be/));
    await assert.rejects(cache.setMany([['n:1', 'a'], 'n:2']), named(/^entries\[1\] must be an array/));
    await assert.rejects(cache.setMany({ 'n:1': 'a', 'n:2': {} }), named(/^entries\.n:2 must be/));
  });

  test('getMany, setMany, delete, expire, ttl', async () => {
    await cache.setMany([['m:1', 'a'], [Buffer.from('m:2'), Buffer.from('b')]]);
    await cache.setMany({ 'm:3': 'c' }, { ttl: 60000 });
    assert.deepEqual(await cache.getMany(['m:1', 'm:2', 'm:3', 'm:none']), [
      Buffer.from('a'),
      Buffer.from('b'),
      Buffer.from('c'),
      null,
    ]);
    assert.deepEqual(await cache.getMany([]), []);
    assert.equal(await cache.ttl('m:1'), Infinity);
    assert.equal(await cache.ttl('m:none'), null);
    assert.equal(await cache.expire('m:1', 5000), true);
    assert.equal(await cache.expire('m:none', '5s'), false);
    assert.ok((await cache.ttl('m:1')) <= 5000);
    assert.equal(await cache.delete('m:1'), 1);
    assert.equal(await cache.delete(['m:2', 'm:3', 'm:none']), 2);
    assert.equal(await cache.get('m:2'), null);
    await cache.setMany([]);
  });

  test('JSON helpers', async () => {
    await cache.setJson('j:1', { a: [1, 'two'] });
    assert.deepEqual(await cache.getJson('j:1'), { a: [1, 'two'] });
    assert.equal(await cache.getJson('j:none'), null);
    await assert.rejects(cache.setJson('j:2', undefined), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('own writes are read back at once', async () => {
    await cache.set('own', '1');
    assert.deepEqual(await cache.get('own'), Buffer.from('1'));
    await cache.set('own', '2');
    assert.equal(cache.getLocal('own'), undefined, 'the write dropped the L1 entry');
    assert.deepEqual(await cache.get('own'), Buffer.from('2'));
    await cache.command(['APPEND', 'own', '3']);
    assert.deepEqual(await cache.get('own'), Buffer.from('23'));
  });
});

describe('hashes', () => {
  test('hset, hget, hmget, hgetall, hdel', async () => {
    assert.equal(await cache.hset('h:1', { a: '1', b: Buffer.from('2') }), 2);
    assert.equal(await cache.hset('h:1', [['c', '3']]), 1);
    assert.deepEqual(await cache.hget('h:1', 'a'), Buffer.from('1'));
    assert.equal(await cache.hget('h:1', 'zz'), null);
    assert.deepEqual(await cache.hmget('h:1', ['b', 'zz', 'c']), [Buffer.from('2'), null, Buffer.from('3')]);
    assert.deepEqual(await cache.hgetall('h:1'), { a: Buffer.from('1'), b: Buffer.from('2'), c: Buffer.from('3') });
    assert.equal(await cache.hdel('h:1', 'a'), 1);
    assert.equal(await cache.hdel('h:1', ['b', 'zz']), 1);
    assert.deepEqual(await cache.hgetall('h:none'), {});
    await assert.rejects(cache.hset('h:1', []), assertCode('NC_INVALID_ARGUMENT'));
    await cache.set('h:str', 'x');
    await assert.rejects(cache.hget('h:str', 'a'), assertCode('NC_REDIS'));
  });
});

describe('getOrLoad', () => {
  test('runs the loader once for 100 concurrent callers', async () => {
    let calls = 0;
    const loader = async (key) => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      return `loaded:${key}`;
    };
    const all = await Promise.all(Array.from({ length: 100 }, () => cache.getOrLoad('gl:1', loader, { ttl: 60000 })));
    assert.equal(calls, 1);
    for (const v of all) assert.deepEqual(v, Buffer.from('loaded:gl:1'));
    assert.deepEqual(await plain.getBuffer('gl:1'), Buffer.from('loaded:gl:1'));
    assert.ok((await plain.pttl('gl:1')) > 0);
    // Present now: the loader is not called again.
    assert.deepEqual(await cache.getOrLoad('gl:1', () => assert.fail('called')), Buffer.from('loaded:gl:1'));
  });

  test('sync loaders and Buffers work', async () => {
    assert.deepEqual(await cache.getOrLoad('gl:2', () => Buffer.from([1, 2])), Buffer.from([1, 2]));
  });

  test('a loader failure rejects with NC_LOADER and the original error as cause', async () => {
    class MyError extends Error {}
    const original = new MyError('db down');
    const err = await cache.getOrLoad('gl:3', async () => { throw original; }).catch((e) => e);
    assert.equal(err.code, 'NC_LOADER');
    assert.match(err.message, /db down/);
    assert.equal(err.cause, original);
    const thrown = await cache.getOrLoad('gl:3', () => { throw original; }).catch((e) => e);
    assert.equal(thrown.cause, original);
    const wrong = await cache.getOrLoad('gl:3', async () => 42).catch((e) => e);
    assert.equal(wrong.code, 'NC_LOADER');
    assert.equal(wrong.cause.name, 'TypeError');
    assert.equal(await plain.exists('gl:3'), 0);
    await assert.rejects(cache.getOrLoad('gl:3', 'not a function'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(cache.getOrLoad('gl:3', () => 'v', { ttl: -1 }), /^Error: options\.ttl must be a non-negative/);
  });
});

describe('local reads', () => {
  test('getLocal returns a Buffer of its own: mutating it corrupts nothing', async () => {
    await cache.set('loc:1', 'abc');
    await cache.get('loc:1');
    const a = cache.getLocal('loc:1');
    const b = cache.getLocal('loc:1');
    assert.notEqual(a, b);
    a.fill(0x7a);
    assert.deepEqual(cache.getLocal('loc:1'), Buffer.from('abc'));
    assert.deepEqual(b, Buffer.from('abc'));
    const viaGet = await cache.get('loc:1');
    viaGet[0] = 0;
    assert.deepEqual(await cache.get('loc:1'), Buffer.from('abc'));
  });

  test('a reused Buffer follows the entry: new value after a write', async () => {
    await cache.set('loc:2', 'old');
    await cache.get('loc:2');
    assert.deepEqual(cache.getLocal('loc:2'), Buffer.from('old'));
    await plain.set('loc:2', 'new'); // outside nearcache: tracking invalidates
    await eventually(() => cache.getLocal('loc:2') === undefined);
    assert.deepEqual(await cache.get('loc:2'), Buffer.from('new'));
    assert.deepEqual(cache.getLocal('loc:2'), Buffer.from('new'));
  });

  test('getLocalInto copies into the array of the caller', async () => {
    await cache.set('loc:3', 'hello');
    await cache.get('loc:3');
    const target = new Uint8Array(16);
    assert.equal(cache.getLocalInto('loc:3', target), 5);
    assert.deepEqual(Buffer.from(target.subarray(0, 5)), Buffer.from('hello'));
    const small = new Uint8Array(2);
    assert.equal(cache.getLocalInto('loc:3', small), 5, 'too small: the length, nothing copied');
    assert.deepEqual([...small], [0, 0]);
    assert.equal(cache.getLocalInto('loc:none', target), undefined);
    assert.throws(() => cache.getLocalInto('loc:3', 'nope'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('invalidateLocal: one key, several, all', async () => {
    await cache.setMany([['inv:1', 'a'], ['inv:2', 'b'], ['inv:3', 'c']]);
    await cache.getMany(['inv:1', 'inv:2', 'inv:3']);
    cache.invalidateLocal('inv:1');
    assert.equal(cache.getLocal('inv:1'), undefined);
    assert.deepEqual(cache.getLocal('inv:2'), Buffer.from('b'));
    cache.invalidateLocal(['inv:2']);
    assert.equal(cache.getLocal('inv:2'), undefined);
    cache.invalidateLocal();
    assert.equal(cache.getLocal('inv:3'), undefined);
    assert.deepEqual(await cache.get('inv:3'), Buffer.from('c'));
  });

  test('tracking: a write from another client is seen within 2 s', async () => {
    const reader = open();
    await plain.set('tr:1', 'v1');
    assert.deepEqual(await reader.get('tr:1'), Buffer.from('v1'));
    assert.deepEqual(reader.getLocal('tr:1'), Buffer.from('v1'));
    await plain.set('tr:1', 'v2');
    await eventually(async () => (await reader.get('tr:1')).equals(Buffer.from('v2')));
    await plain.del('tr:1');
    await eventually(async () => (await reader.get('tr:1')) === null);
    assert.ok(reader.stats().invalidations >= 2);
  });
});

describe('hits answered in JavaScript (copies checked against core change words)', () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  test('repeat hits make no native call, are counted in stats, and never share a Buffer', async (t) => {
    await cache.set('js:1', 'abc');
    await cache.get('js:1');
    assert.deepEqual(cache.getLocal('js:1'), Buffer.from('abc'));
    const before = cache.stats().l1_hits;
    const counter = countNativeLookups();
    t.after(counter.restore);
    const seen = [];
    for (let i = 0; i < 100; i++) seen.push(cache.getLocal('js:1'));
    seen.push(await cache.get('js:1'));
    seen.push(cache.getLocal(Buffer.from('js:1')));
    assert.equal(counter.calls, 1, 'only the first Buffer-key lookup asks core');
    assert.equal(cache.stats().l1_hits - before, 102);
    assert.match(cache.statsPrometheus(), /nearcache_l1_hits_total \d+/);
    seen[0].fill(0x7a);
    for (const b of seen.slice(1)) assert.deepEqual(b, Buffer.from('abc'));
    assert.deepEqual(cache.getLocal('js:1'), Buffer.from('abc'));
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.every((b) => Buffer.isBuffer(b) && Object.getPrototypeOf(b) === Buffer.prototype));
  });

  test('copies cut across chunks stay whole and apart', async () => {
    // Enough hits of a value just under pooledMaxBytes to fill several
    // chunks: each copy must be its own bytes, at the chunk boundary too.
    const { chunkBytes, pooledMaxBytes } = nearcache.localCopies;
    const value = Buffer.alloc(pooledMaxBytes - 1, 'q');
    await cache.set('js:chunks', value);
    await cache.get('js:chunks');
    const copies = [];
    for (let i = 0; i < Math.ceil((3 * chunkBytes) / value.length); i++) copies.push(cache.getLocal('js:chunks'));
    copies.forEach((b, i) => b.fill(i & 0xff));
    copies.forEach((b, i) => {
      assert.ok(Buffer.isBuffer(b) && Object.getPrototypeOf(b) === Buffer.prototype);
      assert.equal(b.length, value.length);
      assert.ok(b.every((x) => x === (i & 0xff)), `copy ${i} was overwritten`);
    });
    assert.ok(new Set(copies.map((b) => b.buffer)).size >= 3, 'the copies span several chunks');
    assert.deepEqual(cache.getLocal('js:chunks'), value);
  });

  test('a write from another client drops the copy', async () => {
    // A long staleness bound, so that only the invalidation can end the copy.
    const reader = open({ l1: { max_staleness: '30s' } });
    await plain.set('js:w', 'v1');
    await reader.get('js:w');
    for (let i = 0; i < 10; i++) assert.deepEqual(reader.getLocal('js:w'), Buffer.from('v1'));
    await plain.set('js:w', 'v2');
    await eventually(() => reader.getLocal('js:w') === undefined);
    assert.deepEqual(await reader.get('js:w'), Buffer.from('v2'));
    assert.deepEqual(reader.getLocal('js:w'), Buffer.from('v2'));
    await plain.del('js:w');
    await eventually(() => reader.getLocal('js:w') === undefined);
    assert.equal(await reader.get('js:w'), null);
    assert.equal(reader.getLocal('js:w'), null, 'a cached absence');
  });

  test('own writes, invalidateLocal and a FLUSHALL drop the copies', async () => {
    const c = open({ l1: { max_staleness: '30s' } });
    await c.setMany([['js:f1', 'a'], ['js:f2', 'b']]);
    await c.getMany(['js:f1', 'js:f2']);
    assert.deepEqual(c.getLocal('js:f1'), Buffer.from('a'));
    assert.deepEqual(c.getLocal('js:f2'), Buffer.from('b'));
    await c.set('js:f1', 'a2');
    assert.equal(c.getLocal('js:f1'), undefined, 'own write: at once');
    assert.deepEqual(await c.get('js:f1'), Buffer.from('a2'));
    c.invalidateLocal();
    assert.equal(c.getLocal('js:f2'), undefined);
    await c.getMany(['js:f1', 'js:f2']);
    assert.deepEqual(c.getLocal('js:f2'), Buffer.from('b'));
    await plain.flushall();
    await eventually(() => c.getLocal('js:f1') === undefined && c.getLocal('js:f2') === undefined);
    assert.equal(await c.get('js:f2'), null);
  });

  test('a copy expires with its L1 entry, without help from the server', async () => {
    const c = open({ l1: { ttl: '300ms', ttl_jitter: 0 } });
    await plain.set('js:ttl', 'v');
    await c.get('js:ttl');
    assert.deepEqual(c.getLocal('js:ttl'), Buffer.from('v'));
    await sleep(350);
    assert.equal(c.getLocal('js:ttl'), undefined);
    // The key's own Redis TTL bounds the entry too (rule 7).
    await plain.set('js:px', 'v', 'PX', 300);
    const d = open();
    await d.get('js:px');
    assert.deepEqual(d.getLocal('js:px'), Buffer.from('v'));
    await sleep(350);
    assert.equal(d.getLocal('js:px'), undefined);
  });

  test('a copy is not served once max_staleness passes without a PONG', async (t) => {
    const own = await startRedis();
    t.after(async () => {
      process.kill(own.pid, 'SIGCONT');
      await own.stop();
    });
    const c = open({ url: own.url, l1: { max_staleness: '400ms', health_interval: '100ms' } });
    await c.set('js:h', 'v');
    await c.get('js:h');
    await eventually(() => c.getLocal('js:h') !== undefined);
    process.kill(own.pid, 'SIGSTOP'); // half-open: nothing answers, nothing closes
    const stopped = Date.now();
    await eventually(() => c.getLocal('js:h') === undefined, 2000);
    assert.ok(Date.now() - stopped <= 400 + 150, `served ${Date.now() - stopped} ms after the last PONG`);
    c.close();
  });

  test('the kept copies stay within l1.max_bytes, cached absences included', async () => {
    const c = open({ l1: { max_bytes: '64KiB' } });
    const value = Buffer.alloc(1024, 'v');
    await c.setMany(Array.from({ length: 200 }, (_, i) => [`js:m${i}`, value]));
    const state = () => keptCopies(c);
    const charged = () => {
      // Rule 3 of index.js, recomputed from the kept maps and localCopies.
      let sum = 0;
      for (const map of [state().strings, state().buffers]) {
        for (const [k, entry] of map) {
          sum += k.length + nearcache.localCopies.entryOverheadBytes + (entry.master === null ? 0 : entry.master.length);
        }
      }
      return sum;
    };
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 200; i++) {
        await c.get(`js:m${i}`);
        const got = c.getLocal(i % 2 ? `js:m${i}` : Buffer.from(`js:m${i}`));
        assert.ok(got === undefined || got.equals(value), `js:m${i}`);
        assert.ok(state().bytes <= state().max, `${state().bytes} > ${state().max}`);
        assert.equal(state().bytes, charged());
      }
    }
    for (let i = 0; i < 2000; i++) {
      await c.get(`js:absent${i}`);
      c.getLocal(`js:absent${i}`);
    }
    assert.equal(state().max, 64 * 1024, 'the bound is core\'s l1.max_bytes');
    assert.ok(state().bytes <= state().max);
    assert.equal(state().bytes, charged());
    assert.ok(state().strings.size < 2000, `${state().strings.size} entries kept`);
  });

  test('a wall-clock step back drops every kept copy', async (t) => {
    const c = open({ l1: { max_staleness: '30s' } });
    await c.setMany([['js:clk1', 'a'], ['js:clk2', 'b']]);
    await c.getMany(['js:clk1', 'js:clk2']);
    const clock = fakeClock(t);
    assert.deepEqual(c.getLocal('js:clk1'), Buffer.from('a'));
    assert.deepEqual(c.getLocal('js:clk2'), Buffer.from('b'));
    const counter = countNativeLookups();
    t.after(counter.restore);
    for (let i = 0; i < 10; i++) assert.deepEqual(c.getLocal('js:clk1'), Buffer.from('a'));
    assert.equal(counter.calls, 0, 'served from the kept copy');
    clock.t -= 3_600_000; // NTP steps the clock back an hour
    assert.deepEqual(c.getLocal('js:clk1'), Buffer.from('a'));
    assert.equal(counter.calls, 1, 'the step back sent the lookup to core');
    assert.equal(keptCopies(c).strings.size, 1, 'every other copy was dropped');
    assert.equal(keptCopies(c).strings.has('js:clk2'), false);
    const bytes = keptCopies(c).bytes;
    assert.equal(bytes, 'js:clk1'.length + nearcache.localCopies.entryOverheadBytes + 1, 'charged once, from zero');
    for (let i = 0; i < 10; i++) assert.deepEqual(c.getLocal('js:clk1'), Buffer.from('a'));
    assert.equal(counter.calls, 1, 'the new copy is served');
  });

  test('a kept copy goes back to core every revisitMs; every hit is counted once', async (t) => {
    const c = open({ l1: { max_staleness: '30s' } });
    const { revisitMs } = nearcache.localCopies;
    await c.set('js:rv', 'v');
    await c.get('js:rv');
    const clock = fakeClock(t);
    const before = c.stats().l1_hits;
    const counter = countNativeLookups();
    t.after(counter.restore);
    c.getLocal('js:rv'); // core answers and the copy is kept
    for (let i = 0; i < 5; i++) c.getLocal('js:rv');
    assert.equal(counter.calls, 1);
    clock.t += revisitMs - 1;
    c.getLocal('js:rv');
    assert.equal(counter.calls, 1, 'still within revisitMs');
    clock.t += 1;
    assert.deepEqual(c.getLocal('js:rv'), Buffer.from('v'));
    assert.equal(counter.calls, 2, 'revisitMs passed: core saw the key again');
    for (let i = 0; i < 5; i++) c.getLocal('js:rv');
    assert.equal(counter.calls, 2, 'the revisit renewed the copy');
    // 13 hits: 2 answered by core (counted there), 11 from the copy (added
    // to core's counters): stats() shows each once.
    assert.equal(c.stats().l1_hits - before, 13);
  });

  test('close drops the copies: NC_CLOSED', async () => {
    const c = open();
    await c.set('js:c', 'v');
    await c.get('js:c');
    assert.deepEqual(c.getLocal('js:c'), Buffer.from('v'));
    // Awaited: until the close completes, core may still answer L1 hits (a
    // settled call's in-flight count is dropped just after its Promise is
    // queued, so close() can find it still counted and wait for it).
    await c.close();
    assert.throws(() => c.getLocal('js:c'), assertCode('NC_CLOSED'));
    await assert.rejects(c.get('js:c'), assertCode('NC_CLOSED'));
  });

  test('gets of one tick go to Redis together; each key settles on its own', async () => {
    const off = open({ l1: { invalidation: 'off' } });
    await plain.set('js:b1', 'one');
    // A frame with nearcache's magic and an unknown algorithm: NC_CODEC.
    await plain.set('js:bad', Buffer.from([0x00, 0x4e, 0x43, 0x09, 1, 0, 0, 0, 0x41]));
    const results = await Promise.allSettled([off.get('js:b1'), off.get('js:bad'), off.get('js:none'), off.get('js:b1')]);
    assert.deepEqual(results[0], { status: 'fulfilled', value: Buffer.from('one') });
    assert.equal(results[1].status, 'rejected');
    assert.equal(results[1].reason.code, 'NC_CODEC');
    assert.deepEqual(results[2], { status: 'fulfilled', value: null });
    assert.deepEqual(results[3], { status: 'fulfilled', value: Buffer.from('one') });
    assert.notEqual(results[0].value, results[3].value);
    const pending = off.get('js:b1');
    const closing = off.close(); // before the batch is sent: close sends it and waits for it
    assert.deepEqual(await pending, Buffer.from('one'));
    await closing;
    await assert.rejects(off.get('js:b1'), assertCode('NC_CLOSED'));
  });
});

describe('scan, deletePrefix, command', () => {
  test('scan iterates with SCAN; deletePrefix deletes and drops from L1', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `sc:${i}`);
    await cache.setMany(keys.map((k) => [k, 'v']));
    const seen = new Set();
    for await (const k of cache.scan('sc:*')) seen.add(k.toString());
    assert.equal(seen.size, keys.length);
    await cache.get('sc:1');
    assert.equal(await cache.deletePrefix('sc:'), keys.length);
    assert.equal(cache.getLocal('sc:1'), undefined);
    assert.equal(await plain.exists('sc:1'), 0);
    await assert.rejects(cache.deletePrefix(''), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(async () => { for await (const _ of cache.scan(5)) { /* */ } }, assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('command: replies of every shape, refusals', async () => {
    assert.equal(await cache.command(['PING']), 'PONG');
    assert.equal(await cache.command(['INCRBY', 'cmd:n', 5]), 5);
    assert.deepEqual(await cache.command(['GET', 'cmd:n']), Buffer.from('5'));
    assert.equal(await cache.command(['GET', 'cmd:none']), null);
    await cache.command(['RPUSH', 'cmd:l', 'a', 'b']);
    assert.deepEqual(await cache.command(['LRANGE', 'cmd:l', 0, -1]), [Buffer.from('a'), Buffer.from('b')]);
    await cache.command(['HSET', 'cmd:h', 'f', 'v']);
    assert.deepEqual(await cache.command(['HGETALL', 'cmd:h']), { f: Buffer.from('v') });
    assert.equal(await cache.command(['INCRBYFLOAT', 'cmd:f', 1.5]).then(String), '1.5');
    await assert.rejects(cache.command(['MULTI']), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.command(['SUBSCRIBE', 'ch']), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.command([]), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.command(['NOSUCHCOMMAND']), assertCode('NC_REDIS'));
    await assert.rejects(cache.command('PING'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(cache.command([{}]), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });
});

describe('interop', () => {
  test('values written by Node read by ioredis, and back', async () => {
    await cache.set('io:1', 'from node');
    assert.equal(await plain.get('io:1'), 'from node');
    await plain.set('io:2', Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(await cache.get('io:2'), Buffer.from([0, 1, 2, 255]));
    const json = JSON.stringify({ n: 1 });
    await cache.setJson('io:3', { n: 1 });
    assert.equal(await plain.get('io:3'), json);
  });

  test('compression vectors (tests/vectors/frames.json)', async () => {
    const file = path.resolve(__dirname, '../../tests/vectors/frames.json');
    const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(cases.length > 5);
    const byConfig = new Map();
    for (const c of cases) {
      const stored = Buffer.from(c.stored_hex, 'hex');
      const key = `vec:${c.name}`;
      if ('input_hex' in c) {
        const input = Buffer.from(c.input_hex, 'hex');
        const cfg = JSON.stringify(c.config);
        if (!byConfig.has(cfg)) {
          byConfig.set(cfg, open({ l1: { invalidation: 'off' }, compression: c.config }));
        }
        const writer = byConfig.get(cfg);
        await writer.set(key, input);
        assert.deepEqual(await writer.command(['GET', key]), stored, `${c.name}: encode`);
        await cache.command(['SET', key, stored]);
        assert.deepEqual(await cache.get(key), input, `${c.name}: decode`);
      } else {
        await cache.command(['SET', key, stored]);
        if (c.expect_error) {
          await assert.rejects(cache.get(key), assertCode(c.expect_error), c.name);
        } else {
          assert.deepEqual(await cache.get(key), Buffer.from(c.output_hex, 'hex'), c.name);
        }
      }
    }
  });
});

describe('concurrency', () => {
  test('2000 concurrent promises settle with the right values', async () => {
    const n = 2000;
    await Promise.all(Array.from({ length: n }, (_, i) => cache.set(`cc:${i}`, `v${i}`)));
    const off = open({ l1: { invalidation: 'off' } });
    const got = await Promise.all(Array.from({ length: n }, (_, i) => off.get(`cc:${i}`)));
    got.forEach((v, i) => assert.deepEqual(v, Buffer.from(`v${i}`)));
    const again = await Promise.all(Array.from({ length: n }, (_, i) => cache.get(`cc:${i % 100}`)));
    again.forEach((v, i) => assert.deepEqual(v, Buffer.from(`v${i % 100}`)));
  });
});

describe('errors', () => {
  test('codes: frozen, one per kind of core, used by index.js too', async () => {
    const { codes } = nearcache;
    assert.ok(Object.isFrozen(codes));
    const all = ['NC_CONFIG', 'NC_CONNECTION', 'NC_TIMEOUT', 'NC_AUTH', 'NC_REDIS', 'NC_CODEC',
      'NC_INVALID_ARGUMENT', 'NC_CLOSED', 'NC_LOADER', 'NC_INTERNAL', 'NC_TRANSACTION_ABORTED'];
    assert.deepEqual(Object.values(codes).sort(), all.sort());
    assert.equal(codes.InvalidArgument, 'NC_INVALID_ARGUMENT');
    assert.equal(codes.Internal, 'NC_INTERNAL');
    // A TypeError index.js makes itself carries the same code.
    await assert.rejects(cache.getOrLoad('k', 'nope'), assertCode(codes.InvalidArgument, 'TypeError'));
  });

  const testHooks = (process.env.NEARCACHE_FEATURES || '').includes('test-hooks');
  test('a panic in an export is core\'s Internal error', { skip: !testHooks && 'needs the test-hooks build (make node-test)' }, () => {
    const native = require('../nearcache.node');
    assert.equal(typeof native._panicForTests, 'function', 'the test build has the hook');
    assert.equal(nearcache._panicForTests, native._panicForTests, 'index.js re-exports it');
    assert.throws(() => nearcache._panicForTests('boom'), (err) => {
      assert.equal(err.code, nearcache.codes.Internal);
      // nearcache::Error::from_panic's text, the same in every language.
      assert.equal(err.message, 'internal error (a bug in nearcache, please report it): panic: boom');
      return true;
    });
    // The panic did not poison anything: the next call works.
    assert.equal(typeof cache.stats().l1_hits, 'number');
  });

  test('wrong argument types reject with TypeError (sync methods throw)', async () => {
    for (const bad of [undefined, null, 42, {}, [], () => 1, Symbol('s')]) {
      await assert.rejects(cache.get(bad), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
      await assert.rejects(cache.set('k', bad), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
      assert.throws(() => cache.getLocal(bad), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    }
    await assert.rejects(cache.getMany('k'), /keys must be an array/);
    await assert.rejects(cache.getMany(['k', 1]), /keys\[1\] must be a string or Buffer, got a number/);
    await assert.rejects(cache.setMany(5), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(cache.setMany([['k']]), /entries\[0\] must be a \[key, value\] pair/);
    await assert.rejects(cache.expire('k'), /ttl is required/);
    assert.throws(() => cache.invalidateLocal(5), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('empty and oversized keys: NC_INVALID_ARGUMENT', async () => {
    await assert.rejects(cache.get(''), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.set('', 'v'), assertCode('NC_INVALID_ARGUMENT'));
    assert.throws(() => cache.getLocal(''), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(cache.get('k'.repeat(70000)), assertCode('NC_INVALID_ARGUMENT'));
  });

  test('a closed cache: NC_CLOSED everywhere, close twice is fine', async () => {
    const c = new Cache({ url: server.url });
    await c.set('cl:1', 'v');
    // Awaited for the same reason as above: the set may still be counted.
    await c.close();
    await c.close();
    assert.equal(c.closed, true);
    await assert.rejects(c.get('cl:1'), assertCode('NC_CLOSED'));
    await assert.rejects(c.set('cl:1', 'v'), assertCode('NC_CLOSED'));
    await assert.rejects(c.command(['PING']), assertCode('NC_CLOSED'));
    assert.throws(() => c.getLocal('cl:1'), assertCode('NC_CLOSED'));
    assert.throws(() => c.invalidateLocal(), assertCode('NC_CLOSED'));
  });

  test('close() returns a Promise that waits for the calls in flight', async () => {
    const c = new Cache({ url: server.url, redis: { command_timeout: '2s' } });
    await c.set('cw:1', 'v');
    c.invalidateLocal(); // the gets below go to Redis
    await c.command(['PING']); // connected before the pause
    await plain.call('CLIENT', 'PAUSE', '300');
    const pending = [c.get('cw:1'), c.getMany(['cw:1', 'cw:2']), c.command(['GET', 'cw:1'])];
    const settled = [];
    pending.forEach((p, i) => p.then(() => settled.push(i)));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the calls are in flight
    const closing = c.close();
    assert.ok(closing instanceof Promise);
    assert.equal(c.closed, false, 'waiting for three calls');
    await assert.rejects(c.set('cw:1', 'late'), (err) => err.code === 'NC_CLOSED' && /closing/.test(err.message));
    await closing;
    assert.equal(c.closed, true);
    assert.deepEqual(settled.sort(), [0, 1, 2], 'every call settled before close resolved');
    assert.deepEqual(
      (await Promise.all(pending)).map((v) => (Array.isArray(v) ? v.map(String) : String(v))),
      ['v', ['v', 'null'], 'v'],
    );
    await c.close(); // twice: harmless
    await assert.rejects(c.get('cw:1'), assertCode('NC_CLOSED'));
  });

  test('Symbol.asyncDispose / Symbol.dispose close the cache where the runtime has them', async () => {
    if (typeof Symbol.asyncDispose !== 'symbol') return; // Node 18
    const c = new Cache({ url: server.url });
    await c.set('ad:1', 'v');
    await c[Symbol.asyncDispose]();
    assert.equal(c.closed, true);
    await c[Symbol.asyncDispose](); // twice: harmless
    const d = new Cache({ url: server.url });
    d[Symbol.dispose]();
    assert.equal(d.closed, true); // nothing in flight: closed at once
  });

  test('an unreachable server: NC_CONNECTION or NC_TIMEOUT without the password, getLocal stays synchronous', async () => {
    const secret = 'pw-SENTINEL-unreachable';
    const c = open({ url: `redis://user:${secret}@127.0.0.1:1`, redis: { connect_timeout: '200ms' } });
    assert.equal(c.getLocal('k'), undefined);
    const err = await c.get('k').catch((e) => e);
    assert.ok(['NC_CONNECTION', 'NC_TIMEOUT'].includes(err.code), `${err.code}: ${err.message}`);
    // The message is about this URL (it names the host) and still hides its
    // password; assertNoSecret itself is checked in security.test.js.
    assert.match(err.message, /127\.0\.0\.1:1\b/);
    assertNoSecret(err.message, secret);
    assertNoSecret(err.stack, secret);
  });

  test('bad config: NC_CONFIG naming the field; passwords never shown', () => {
    assert.throws(() => new Cache({ url: server.url, l1: { max_bytes: 'lots' } }), (e) => {
      assert.equal(e.code, 'NC_CONFIG');
      assert.match(e.message, /^l1\.max_bytes: /);
      return true;
    });
    assert.throws(() => new Cache({ url: server.url, l1: { nope: 1 } }), /l1\.nope/);
    assert.throws(() => new Cache({ url: 'http://x' }), assertCode('NC_CONFIG'));
    assert.throws(() => new Cache('redis://x'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    assert.throws(() => Cache.fromConfig('/nonexistent/nearcache.toml'), assertCode('NC_CONFIG'));
    assert.throws(() => Cache.fromConfig(5), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    const c = open({ url: 'redis://user:s3cret@127.0.0.1:1' });
    assert.ok(!c.configJson().includes('s3cret'));
  });

  test('fromConfig and configJson match the shared conformance config', () => {
    const dir = path.resolve(__dirname, '../../tests/conformance/configs');
    const c = Cache.fromConfig(path.join(dir, 'full.toml'));
    caches.track(c);
    assert.equal(c.configJson(), fs.readFileSync(path.join(dir, 'full.expected.json'), 'utf8').trimEnd());
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-'));
    fs.writeFileSync(path.join(tmp, 'c.json'), JSON.stringify({ redis: { url: server.url } }));
    const fromJson = Cache.fromConfig(path.join(tmp, 'c.json'));
    caches.track(fromJson);
    assert.equal(JSON.parse(fromJson.configJson()).redis.url, server.url);
    fs.rmSync(tmp, { recursive: true });
  });
});

describe('stats', () => {
  test('stats() is a plain object; statsPrometheus() is text', async () => {
    await cache.set('st:1', 'v');
    await cache.get('st:1');
    cache.getLocal('st:1');
    const s = cache.stats();
    assert.equal(typeof s.l1_hits, 'number');
    assert.ok(s.l1_hits >= 1);
    assert.equal(typeof s.errors, 'object');
    assert.ok(Array.isArray(s.hot_keys));
    assert.match(cache.statsPrometheus(), /nearcache_/);
  });
});
