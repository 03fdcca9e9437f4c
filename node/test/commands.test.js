'use strict';
// Issue 15 through the Node binding: the typed cached reads and writes,
// read(args), pipelines (ioredis's chainable shape), multi(), transaction(fn,
// ...keys) and scripts, against a launched redis-server. Behaviour is core's;
// these check the JavaScript shapes and that each interface keeps core's
// rules (L1 answers, read-your-writes, retries, NOSCRIPT fallback).
const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const Redis = require('ioredis');
const { Cache, Pipeline, Transaction, Script, codes } = require('..');
const { startRedis, cacheFactory, assertCode } = require('./helpers');

let server;
let plain; // ioredis: a client outside nearcache
const caches = cacheFactory(Cache, () => server.url);
// `ttl` mode: nothing but our own writes drops an L1 entry, so a read that
// returns an outside client's old value proves it came from L1.
const openTtl = (options = {}) => caches.open({ ...options, l1: { invalidation: 'ttl', ttl: '60s' } });

before(async () => {
  server = await startRedis();
  plain = new Redis(server.url, { lazyConnect: false });
});

after(async () => {
  caches.closeAll();
  plain.disconnect();
  await server.stop();
});

const buffers = (xs) => xs.map((x) => Buffer.from(x));
const text = (xs) => xs.map((x) => (Buffer.isBuffer(x) ? x.toString() : x));
const sorted = (xs) => text(xs).sort();
const readHits = (c) => c.stats().l1_read_hits;

describe('typed reads', () => {
  test('hashes: hexists, hlen, hkeys, hvals; the second read is an L1 hit', async () => {
    const c = openTtl();
    await c.hset('t:h', { name: 'Ada', lang: 'en' });
    assert.equal(await c.hexists('t:h', 'name'), 1);
    assert.equal(await c.hexists('t:h', 'nope'), 0);
    assert.equal(await c.hlen('t:h'), 2);
    assert.deepEqual(sorted(await c.hkeys('t:h')), ['lang', 'name']);
    assert.deepEqual(sorted(await c.hvals('t:h')), ['Ada', 'en']);
    assert.ok((await c.hvals('t:h')).every(Buffer.isBuffer), 'values are Buffers');
    assert.equal(await c.hlen('missing'), 0);
    const hits = readHits(c);
    // An outside write: in ttl mode L1 keeps answering the old replies.
    await plain.hset('t:h', 'extra', 'x');
    assert.equal(await c.hlen('t:h'), 2);
    assert.deepEqual(sorted(await c.hkeys('t:h')), ['lang', 'name']);
    assert.equal(readHits(c), hits + 2);
  });

  test('reads L1 answers settle at once, without a trip through the runtime thread', async () => {
    const c = openTtl();
    await c.hset('r:now', { f: 'v', g: 'w' });
    const reads = () => [
      c.hget('r:now', 'f'),
      c.hmget('r:now', ['f', 'g']),
      c.hgetall('r:now'),
      c.hlen('r:now'),
      c.read(['HGET', 'r:now', 'g']),
    ];
    await Promise.all(reads()); // misses: fill L1
    for (const [i, p] of reads().entries()) {
      let settled = false;
      p.then(() => {
        settled = true;
      });
      // A Promise settled by the call itself runs its reactions within these
      // microtask turns; one settled from core's runtime needs an event-loop
      // turn first.
      await Promise.resolve();
      await Promise.resolve();
      assert.equal(settled, true, `read #${i} was not answered from L1 at once`);
    }
  });

  test('hget from L1: Buffers of their own, short and long values, missing fields, bad arguments', async () => {
    // index.js cuts an L1 hit's Buffer from its chunks (values up to
    // pooledMaxBytes) or takes the native Buffer (longer ones).
    const c = openTtl();
    const long = Buffer.alloc(require('..').localCopies.pooledMaxBytes + 1, 'L');
    await c.hset('t:own', { s: 'short', l: long });
    assert.deepEqual(await c.hget('t:own', 's'), Buffer.from('short')); // miss: fills L1
    assert.deepEqual(await c.hget('t:own', 'l'), long);
    assert.equal(await c.hget('t:own', 'none'), null);
    const hits = readHits(c);
    const first = await c.hget('t:own', 's');
    const second = await c.hget(Buffer.from('t:own'), Buffer.from('s'));
    const longHit = await c.hget('t:own', 'l');
    assert.equal(await c.hget('t:own', 'none'), null);
    assert.equal(readHits(c), hits + 4, 'all four answered by L1');
    for (const b of [first, second, longHit]) {
      assert.ok(Buffer.isBuffer(b) && Object.getPrototypeOf(b) === Buffer.prototype);
    }
    first.fill(0x21);
    longHit.fill(0x21);
    assert.deepEqual(second, Buffer.from('short'));
    assert.deepEqual(await c.hget('t:own', 's'), Buffer.from('short'));
    assert.deepEqual(await c.hget('t:own', 'l'), long);
    await assert.rejects(c.hget('t:own', 5), assertCode(codes.InvalidArgument, 'TypeError'));
    await assert.rejects(c.hget(null, 's'), assertCode(codes.InvalidArgument, 'TypeError'));
    const closed = openTtl();
    await closed.close();
    await assert.rejects(closed.hget('t:own', 's'), assertCode(codes.Closed));
  });

  test('sets: smembers, sismember, smismember (rest or array), scard', async () => {
    const c = openTtl();
    assert.equal(await c.sadd('t:s', 'a', 'b', 'c'), 3);
    assert.deepEqual(sorted(await c.smembers('t:s')), ['a', 'b', 'c']);
    assert.equal(await c.sismember('t:s', 'b'), 1);
    assert.equal(await c.sismember('t:s', Buffer.from('z')), 0);
    assert.deepEqual(await c.smismember('t:s', 'a', 'z'), [1, 0]);
    assert.deepEqual(await c.smismember('t:s', ['z', 'c']), [0, 1]);
    assert.equal(await c.scard('t:s'), 3);
    assert.deepEqual(await c.smembers('t:none'), []);
  });

  test('sorted sets: zscore, zmscore, zrange in every form, zrank, zrevrank, zcard, zcount', async () => {
    const c = openTtl();
    assert.equal(await c.zadd('t:z', 1, 'a', 2.5, 'b', 3, 'c'), 3);
    assert.equal(await c.zscore('t:z', 'b'), 2.5);
    assert.equal(await c.zscore('t:z', 'nope'), null);
    assert.deepEqual(await c.zmscore('t:z', 'a', 'nope'), [1, null]);
    assert.deepEqual(await c.zmscore('t:z', ['c']), [3]);
    assert.deepEqual(text(await c.zrange('t:z', 0, -1)), ['a', 'b', 'c']);
    assert.deepEqual(text(await c.zrange('t:z', '0', '1')), ['a', 'b'], 'indexes as strings');
    const scored = await c.zrange('t:z', 0, 1, 'WITHSCORES');
    assert.deepEqual(scored, [
      [Buffer.from('a'), 1],
      [Buffer.from('b'), 2.5],
    ]);
    assert.deepEqual(await c.zrange('t:z', 0, 0, { withScores: true }), [[Buffer.from('a'), 1]]);
    assert.deepEqual(text(await c.zrange('t:z', '(1', '+inf', { by: 'score' })), ['b', 'c']);
    assert.deepEqual(text(await c.zrange('t:z', 3, 2, { by: 'score', rev: true })), ['c', 'b']);
    assert.deepEqual(text(await c.zrange('t:z', '-inf', '+inf', { by: 'score', limit: { offset: 1, count: 1 } })), ['b']);
    assert.deepEqual(text(await c.zrange('t:z', 0, -1, { rev: true })), ['c', 'b', 'a']);
    await c.zadd('t:lex', 0, 'apple', 0, 'banana', 0, 'cherry');
    assert.deepEqual(text(await c.zrange('t:lex', '[b', '+', { by: 'lex' })), ['banana', 'cherry']);
    assert.equal(await c.zrank('t:z', 'c'), 2);
    assert.equal(await c.zrevrank('t:z', 'c'), 0);
    assert.equal(await c.zrank('t:z', 'nope'), null);
    assert.equal(await c.zcard('t:z'), 3);
    assert.equal(await c.zcount('t:z', '(1', 3), 2);
    assert.equal(await c.zcount('t:z', '-inf', '+inf'), 3);
    await assert.rejects(c.zrange('t:z', 'a', 'b'), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.zrange('t:z', 0, 1, { by: 'rank' }), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.zrange('t:z', 0, 1, 'LIMIT'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('lists, strings and keys: lrange, lindex, llen, exists, strlen, type, getbit, bitcount', async () => {
    const c = openTtl();
    assert.equal(await c.rpush('t:l', 'x', 'y', 'z'), 3);
    assert.deepEqual(await c.lrange('t:l', 0, -1), buffers(['x', 'y', 'z']));
    assert.deepEqual(await c.lindex('t:l', -1), Buffer.from('z'));
    assert.equal(await c.lindex('t:l', 10), null);
    assert.equal(await c.llen('t:l'), 3);
    await c.set('t:str', 'hello');
    assert.equal(await c.exists('t:str'), 1);
    assert.equal(await c.exists('t:nope'), 0);
    assert.equal(await c.strlen('t:str'), 5);
    assert.equal(await c.type('t:str'), 'string');
    assert.equal(await c.type('t:l'), 'list');
    assert.equal(await c.type('t:nope'), 'none');
    assert.equal(await c.getbit('t:str', 1), 1); // 'h' = 0b01101000
    assert.equal(await c.getbit('t:str', 0), 0);
    assert.equal(await c.bitcount('t:str'), 21);
    assert.equal(await c.bitcount('t:str', 0, 0), 3);
    await assert.rejects(c.bitcount('t:str', 0), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.getbit('t:str', -1), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.lrange('t:l', 0.5, 1), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('refusals: empty keys, wrong JavaScript types, WRONGTYPE', async () => {
    const c = openTtl();
    await c.set('t:wrong', 'v');
    await assert.rejects(c.hlen(''), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /empty/.test(e.message));
    await assert.rejects(c.smembers(12345), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(c.hlen('t:wrong'), (e) => assertCode('NC_REDIS')(e) && /WRONGTYPE/.test(e.message));
  });
});

describe('read(args)', () => {
  test('any allow-listed read, cached; the reply converts as command() does', async () => {
    const c = openTtl();
    await c.hset('r:h', { lang: 'en' });
    await c.zadd('r:z', 3, 'c', 11, 'a');
    assert.deepEqual(await c.read(['HGET', 'r:h', 'lang']), Buffer.from('en'));
    // The reply as Redis sends it (RESP3: [member, score] pairs).
    assert.deepEqual(await c.read(['zrange', 'r:z', '0', '-1', 'withscores']), [
      [Buffer.from('c'), 3],
      [Buffer.from('a'), 11],
    ]);
    const hits = readHits(c);
    await plain.hset('r:h', 'lang', 'fr');
    assert.deepEqual(await c.read(['HGET', 'r:h', 'lang']), Buffer.from('en'), 'answered by L1');
    assert.equal(readHits(c), hits + 1);
    // command() stays raw and uncached.
    assert.deepEqual(await c.command(['HGET', 'r:h', 'lang']), Buffer.from('fr'));
  });

  test('refuses what is not a cached read with NC_INVALID_ARGUMENT naming the command', async () => {
    const c = openTtl();
    for (const [args, name] of [
      [['TTL', 'k'], 'TTL'],
      [['SRANDMEMBER', 's'], 'SRANDMEMBER'],
      [['SET', 'k', 'v'], 'SET'],
      [['hrandfield', 'h'], 'HRANDFIELD'],
    ]) {
      await assert.rejects(c.read(args), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && e.message.toUpperCase().includes(name));
    }
    await assert.rejects(c.read(['EXISTS', 'a', 'b']), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.read([]), assertCode('NC_INVALID_ARGUMENT'));
    await assert.rejects(c.read('GET k'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });
});

describe('typed writes', () => {
  test('counters: incr, incrby, decr, decrby, hincrby; read back at once through L1', async () => {
    const c = openTtl();
    assert.equal(await c.incr('w:n'), 1);
    assert.equal(await c.incrby('w:n', 41), 42);
    assert.equal(await c.decr('w:n'), 41);
    assert.equal(await c.decrby('w:n', '40'), 1);
    assert.deepEqual(await c.get('w:n'), Buffer.from('1'));
    assert.equal(await c.incr('w:n'), 2);
    assert.deepEqual(await c.get('w:n'), Buffer.from('2'), 'the own write dropped the L1 copy');
    assert.equal(await c.hincrby('w:h', 'visits', 5), 5);
    assert.deepEqual(await c.hget('w:h', 'visits'), Buffer.from('5'));
    assert.equal(await c.hincrby('w:h', 'visits', -2), 3);
    assert.deepEqual(await c.hget('w:h', 'visits'), Buffer.from('3'));
    await c.set('w:text', 'abc');
    await assert.rejects(c.incr('w:text'), (e) => assertCode('NC_REDIS')(e) && /not an integer/.test(e.message));
    await assert.rejects(c.incrby('w:n', 1.5), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    await assert.rejects(c.incr(''), assertCode('NC_INVALID_ARGUMENT'));
  });

  test('sets, sorted sets, lists, persist', async () => {
    const c = openTtl();
    assert.equal(await c.sadd('w:s', ['a', 'b']), 2);
    assert.equal(await c.scard('w:s'), 2);
    assert.equal(await c.srem('w:s', 'a', 'z'), 1);
    assert.equal(await c.scard('w:s'), 1, 'read back at once');
    assert.equal(await c.srem('w:s', []), 0);
    await assert.rejects(c.sadd('w:s'), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /nothing to add/.test(e.message));

    assert.equal(await c.zadd('w:z', 1, 'a'), 1);
    assert.equal(await c.zadd('w:z', [2, 'a', 1, 'b']), 1, 'an update is not new');
    assert.equal(await c.zscore('w:z', 'a'), 2);
    assert.equal(await c.zincrby('w:z', 10, 'a'), 12);
    assert.equal(await c.zscore('w:z', 'a'), 12);
    assert.equal(await c.zrem('w:z', 'b'), 1);
    assert.equal(await c.zcard('w:z'), 1);
    await assert.rejects(c.zadd('w:z'), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /nothing to add/.test(e.message));
    await assert.rejects(c.zadd('w:z', NaN, 'a'), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /NaN/.test(e.message));
    await assert.rejects(c.zadd('w:z', 1), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));

    assert.equal(await c.rpush('w:l', 'x', 'y'), 2);
    assert.equal(await c.lpush('w:l', ['w']), 3);
    assert.deepEqual(await c.lrange('w:l', 0, -1), buffers(['w', 'x', 'y']));
    assert.deepEqual(await c.lpop('w:l'), Buffer.from('w'));
    assert.deepEqual(await c.rpop('w:l'), Buffer.from('y'));
    assert.deepEqual(await c.lrange('w:l', 0, -1), buffers(['x']));
    assert.equal(await c.ltrim('w:l', 1, 1), 'OK');
    assert.equal(await c.llen('w:l'), 0);
    assert.equal(await c.lpop('w:l'), null);
    await assert.rejects(c.lpush('w:l'), assertCode('NC_INVALID_ARGUMENT'));

    await c.set('w:t', 'v', { ttl: 60_000 });
    assert.equal(await c.persist('w:t'), 1);
    assert.equal(await c.ttl('w:t'), Infinity);
    assert.equal(await c.persist('w:t'), 0);
    assert.equal(await c.persist('w:missing'), 0);
  });
});

describe('pipelines', () => {
  test('results in call order, one error in its own place; array form; empty pipeline', async () => {
    const c = openTtl();
    const p = c.pipeline();
    assert.ok(p instanceof Pipeline);
    const chained = p.set('p:k', 'v2').incr('p:n').get('p:k').incr('p:k').hset('p:h', { f: 1 }).hget('p:h', 'f');
    assert.equal(chained, p, 'chainable');
    assert.equal(p.length, 6);
    const results = await p.exec();
    assert.equal(p.length, 0, 'exec empties the pipeline');
    assert.deepEqual(results[0], [null, 'OK']);
    assert.deepEqual(results[1], [null, 1]);
    assert.deepEqual(results[2], [null, Buffer.from('v2')]);
    assert.equal(results[3][1], undefined);
    assertCode(codes.Redis)(results[3][0]);
    assert.match(results[3][0].message, /not an integer/);
    assert.deepEqual(results.slice(4), [
      [null, 1],
      [null, Buffer.from('1')],
    ]);
    const arrayForm = await c.pipeline([['set', 'p:a', 'x'], ['GET', 'p:a'], ['call-ignored-not']]).exec().catch((e) => e);
    // An unknown command is Redis's error in its place, not a refusal.
    assert.ok(Array.isArray(arrayForm), `${arrayForm}`);
    assert.deepEqual(arrayForm.slice(0, 2), [
      [null, 'OK'],
      [null, Buffer.from('x')],
    ]);
    assertCode(codes.Redis)(arrayForm[2][0]);
    assert.deepEqual(await c.pipeline().exec(), []);
    assert.deepEqual(await c.pipeline().call('HSETNX', 'p:h', 'g', 2).exec(), [[null, 1]]);
  });

  test('commands core refuses throw at queueing and queue nothing', async () => {
    const c = openTtl();
    const p = c.pipeline().get('p:x');
    assert.throws(() => p.call('MULTI'), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /MULTI/.test(e.message));
    assert.throws(() => p.call(), assertCode('NC_INVALID_ARGUMENT'));
    assert.throws(() => c.pipeline([['SUBSCRIBE', 'ch']]), assertCode('NC_INVALID_ARGUMENT'));
    assert.equal(p.length, 1);
  });

  test('reads L1 holds are answered from it, mixed with sent ones, in order', async () => {
    const c = openTtl();
    await c.hset('p:m', { f: 'old' });
    assert.deepEqual(await c.hget('p:m', 'f'), Buffer.from('old')); // fills L1
    await plain.hset('p:m', 'f', 'new');
    await plain.set('p:fresh', 'sent');
    const hits = readHits(c) + c.stats().l1_hits;
    const results = await c.pipeline().get('p:fresh').hget('p:m', 'f').incr('p:cnt').hget('p:m', 'f').exec();
    assert.deepEqual(results, [
      [null, Buffer.from('sent')],
      [null, Buffer.from('old')], // from L1: the outside write is not seen in ttl mode
      [null, 1],
      [null, Buffer.from('old')],
    ]);
    assert.equal(readHits(c) + c.stats().l1_hits, hits + 2);
    // A pipelined read that went out filled L1: the next one is a hit.
    const again = readHits(c) + c.stats().l1_hits;
    assert.deepEqual(await c.pipeline().get('p:fresh').exec(), [[null, Buffer.from('sent')]]);
    assert.equal(readHits(c) + c.stats().l1_hits, again + 1);
  });

  test('multi(): MULTI/EXEC in ioredis shape; runtime errors in place; EXECABORT rejects the whole', async () => {
    const c = openTtl();
    const m = c.multi();
    assert.equal(m.transaction, true);
    const seed = await m.hset('atomic', 'name', 'Project Manhattan', 'location', 'Los Alamos').zadd('history', 1942, 'atomic').exec();
    assert.deepEqual(seed, [
      [null, 2],
      [null, 1],
    ]);
    assert.deepEqual(await c.hget('atomic', 'location'), Buffer.from('Los Alamos'));
    const mixed = await c.multi([['SET', 'p:t', 'x'], ['INCR', 'p:t'], ['GET', 'p:t']]).exec();
    assert.deepEqual(mixed[0], [null, 'OK']);
    assert.match(mixed[1][0].message, /not an integer/);
    assert.deepEqual(mixed[2], [null, Buffer.from('x')]);
    await assert.rejects(
      c.multi().set('p:t', 'y').call('NOSUCHCOMMAND').exec(),
      // Core reports the refused command's own error, which says more than EXECABORT.
      (e) => assertCode('NC_REDIS')(e) && /nothing ran/.test(e.message) && /NOSUCHCOMMAND/.test(e.message),
    );
    assert.deepEqual(await c.get('p:t'), Buffer.from('x'), 'nothing ran');
  });

  test('the seed example is seen all-or-nothing by a concurrent reader', async () => {
    const writer = openTtl();
    const reader = caches.open({ l1: { invalidation: 'off' } });
    let stop = false;
    let both = 0;
    let neither = 0;
    const reading = (async () => {
      while (!stop) {
        // The reader's own MULTI: both reads at one point in time.
        const [[, name], [, score]] = await reader.multi().hget('seed', 'name').zscore('seed:history', 'seed').exec();
        if (name !== null && score !== null) both++;
        else if (name === null && score === null) neither++;
        else throw new Error(`half a transaction seen: ${name} ${score}`);
      }
    })();
    for (let i = 0; i < 100; i++) {
      await writer.multi().hset('seed', { name: 'Project Manhattan', location: 'Los Alamos' }).zadd('seed:history', 1942, 'seed').exec();
      await writer.multi().del('seed').zrem('seed:history', 'seed').exec();
    }
    stop = true;
    await reading;
    assert.ok(both + neither > 0);
  });
});

describe('transactions', () => {
  test('transaction(fn, ...keys): reads now, queued writes, EXEC results', async () => {
    const c = openTtl();
    await c.set('x:stock', '5');
    const seen = [];
    const results = await c.transaction(async (tx) => {
      assert.ok(tx instanceof Transaction);
      const stock = await tx.command(['GET', 'x:stock']);
      seen.push(stock.toString());
      tx.multi();
      tx.queue(['DECRBY', 'x:stock', 2]);
      tx.queue(['GET', 'x:stock']);
    }, 'x:stock');
    assert.deepEqual(seen, ['5']);
    assert.deepEqual(results, [
      [null, 3],
      [null, Buffer.from('3')],
    ]);
    assert.deepEqual(await c.get('x:stock'), Buffer.from('3'));
  });

  test('an outside write to a watched key runs fn again, up to transaction_retries, then NC_TRANSACTION_ABORTED', async () => {
    const c = openTtl({ redis: { transaction_retries: 2 } });
    let runs = 0;
    await assert.rejects(
      c.transaction(async (tx) => {
        runs++;
        await plain.incr('x:contended'); // another client, every time
        tx.multi();
        tx.queue(['SET', 'x:contended', 'mine']);
      }, ['x:contended']),
      (e) => assertCode('NC_TRANSACTION_ABORTED')(e) && /3 times/.test(e.message),
    );
    assert.equal(runs, 3, 'the first attempt and 2 retries');
    assert.equal(await plain.get('x:contended'), '3', 'no EXEC ran');
    // Each aborted EXEC counts, and the give-up once more (as Python and
    // Rust's Cache::transaction count them).
    assert.equal(c.stats().errors.NC_TRANSACTION_ABORTED, runs + 1);
    // An error of fn ends it as is, without retry.
    runs = 0;
    const boom = new Error('boom');
    await assert.rejects(
      c.transaction(async () => {
        runs++;
        throw boom;
      }, 'x:contended'),
      (e) => e === boom,
    );
    assert.equal(runs, 1);
    await assert.rejects(c.transaction('not a function'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
  });

  test('the low-level form: watch, command, multi, queue, exec; WATCH refused after multi', async () => {
    const c = openTtl();
    const tx = await c.watch(['x:w']);
    tx.queue(['SET', 'x:w', 'mine']);
    assert.equal(tx.queued, 1);
    assert.deepEqual(await tx.exec(), [[null, 'OK']]);
    const aborted = await c.watch(['x:w']);
    await plain.set('x:w', 'theirs');
    aborted.queue(['SET', 'x:w', 'mine2']);
    await assert.rejects(aborted.exec(), assertCode('NC_TRANSACTION_ABORTED'));
    assert.deepEqual(await c.get('x:w'), Buffer.from('theirs'));
    const refused = await c.watch([]);
    assert.throws(() => refused.queue(['WATCH', 'x:w']), (e) => assertCode('NC_INVALID_ARGUMENT')(e) && /WATCH/.test(e.message));
    await refused.reset();
  });

  test('4 processes x 250 WATCH-guarded increments of one counter end at exactly 1000', async () => {
    const c = openTtl();
    await c.set('x:counter', '0');
    const worker = path.join(__dirname, 'fixtures', 'increment-worker.js');
    const runs = await Promise.all(
      [0, 1, 2, 3].map(
        () =>
          new Promise((resolve, reject) => {
            const child = spawn(process.execPath, [worker, server.url, 'x:counter', '250'], { stdio: ['ignore', 'pipe', 'inherit'] });
            let out = '';
            child.stdout.on('data', (d) => (out += d));
            child.on('error', reject);
            child.on('exit', (status) => (status === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${status}`))));
          }),
      ),
    );
    assert.deepEqual(await c.get('x:counter'), Buffer.from('1000'));
    assert.equal(
      runs.reduce((n, r) => n + r.done, 0),
      1000,
    );
    assert.ok(
      runs.some((r) => r.runs > r.done),
      `no transaction was ever retried (${JSON.stringify(runs)}): the test did not contend`,
    );
  });
});

describe('scripts', () => {
  const INCRBY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

  test('registerScript: call(keys, args); NOSCRIPT after SCRIPT FLUSH falls back to EVAL', async () => {
    const c = openTtl();
    const script = c.registerScript(INCRBY);
    assert.ok(script instanceof Script);
    assert.match(script.sha1, /^[0-9a-f]{40}$/);
    assert.equal(await script.call(['s:n'], ['5']), 5);
    assert.equal(await script.call(['s:n'], [2]), 7);
    await plain.script('FLUSH');
    assert.deepEqual(await plain.script('EXISTS', script.sha1), [0]);
    assert.equal(await script.call(['s:n'], ['1']), 8);
    assert.deepEqual(await plain.script('EXISTS', script.sha1), [1], 'sent again');
    assert.equal(c.stats().errors.NC_REDIS || 0, 0, 'a NOSCRIPT recovered from is no error');
    assert.deepEqual(text(await c.registerScript('return {KEYS[1], ARGV[1], 3}').call(['s:x'], ['y'])), ['s:x', 'y', 3]);
    await assert.rejects(c.registerScript("return redis.error_reply('boom')").call(), (e) => assertCode('NC_REDIS')(e) && /boom/.test(e.message));
    await assert.rejects(c.registerScript('this is not lua').call([], []), assertCode('NC_REDIS'));
  });

  test('defineCommand: cache[name](...keys, ...args) and the same method on pipelines and multi', async () => {
    const c = openTtl();
    c.defineCommand('incrbyScript', { numberOfKeys: 1, lua: INCRBY });
    assert.equal(await c.incrbyScript('s:d', 5), 5);
    await plain.script('FLUSH');
    assert.deepEqual(await c.pipeline().incrbyScript('s:d', 2).get('s:d').exec(), [
      [null, 7],
      [null, Buffer.from('7')],
    ]);
    assert.deepEqual(await c.multi().incrbyScript('s:d', 1).exec(), [[null, 8]]);
    assert.throws(() => c.defineCommand('bad', { numberOfKeys: -1, lua: INCRBY }), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    assert.throws(() => c.defineCommand('bad'), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    for (const taken of ['get', 'exec', 'pipeline']) {
      assert.throws(() => c.defineCommand(taken, { numberOfKeys: 0, lua: 'return 1' }), assertCode('NC_INVALID_ARGUMENT', 'TypeError'));
    }
    assert.equal(typeof c.get, 'function');
    // Redefining a defined command replaces it.
    c.defineCommand('incrbyScript', { numberOfKeys: 1, lua: "return redis.call('DECRBY', KEYS[1], ARGV[1])" });
    assert.equal(await c.incrbyScript('s:d', 8), 0);
  });
});

describe('read-your-writes through every interface', () => {
  // Each write lands after the key's reply is in L1 (ttl mode: nothing else
  // would drop it); the read right after must see the write.
  const writes = {
    'typed helper': (c, k) => c.hset(k, { f: 'new' }).then(() => c.hincrby(k, 'n', 1)),
    'raw command': (c, k) => c.command(['HSET', k, 'f', 'new', 'n', '1']),
    pipeline: (c, k) => c.pipeline().hset(k, 'f', 'new').hincrby(k, 'n', 1).exec(),
    multi: (c, k) => c.multi().hset(k, 'f', 'new').hincrby(k, 'n', 1).exec(),
    transaction: (c, k) =>
      c.transaction(async (tx) => {
        tx.multi();
        tx.queue(['HSET', k, 'f', 'new']);
        tx.queue(['HINCRBY', k, 'n', 1]);
      }, k),
    script: (c, k) => c.registerScript("redis.call('HSET', KEYS[1], 'f', 'new'); return redis.call('HINCRBY', KEYS[1], 'n', 1)").call([k], []),
  };
  for (const [name, write] of Object.entries(writes)) {
    test(name, async () => {
      const c = openTtl();
      const k = `ryw:${name}`;
      await c.hset(k, { f: 'old' });
      assert.deepEqual(await c.hget(k, 'f'), Buffer.from('old'));
      assert.equal(await c.hlen(k), 1);
      assert.deepEqual(await c.read(['HGET', k, 'f']), Buffer.from('old'));
      await write(c, k);
      assert.deepEqual(await c.hget(k, 'f'), Buffer.from('new'));
      assert.equal(await c.hlen(k), 2);
      assert.deepEqual(await c.read(['HGET', k, 'f']), Buffer.from('new'));
      assert.deepEqual((await c.hgetall(k)).n, Buffer.from('1'));
    });
  }
});

describe('close()', () => {
  test('waits for pipelines, transaction calls and scripts in flight; later calls are refused', async () => {
    const c = caches.open();
    const tx = await c.watch(['c:n']);
    tx.queue(['INCR', 'c:n']);
    const inFlight = [c.pipeline().set('c:a', '1').get('c:a').exec(), tx.exec(), c.registerScript('return 1').call()];
    const closing = c.close();
    const [piped, executed, scripted] = await Promise.all(inFlight);
    await closing;
    assert.deepEqual(piped, [
      [null, 'OK'],
      [null, Buffer.from('1')],
    ]);
    assert.deepEqual(executed, [[null, 1]]);
    assert.equal(scripted, 1);
    await assert.rejects(c.pipeline().get('c:a').exec(), assertCode('NC_CLOSED'));
    await assert.rejects(c.watch(['c:a']), assertCode('NC_CLOSED'));
    await assert.rejects(c.transaction(async () => {}, 'c:a'), assertCode('NC_CLOSED'));
    await assert.rejects(c.read(['GET', 'c:a']), assertCode('NC_CLOSED'));
  });
});
