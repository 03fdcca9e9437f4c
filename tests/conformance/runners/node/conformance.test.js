'use strict';
// The conformance scenarios (tests/conformance/scenarios/*.json) through the
// Node binding: one node:test case per scenario file, against a redis-server
// from tests/redis-launcher. This file translates steps into calls; every
// expected value lives in the scenario files. The shared config files
// (tests/conformance/configs/) are checked too: effective config JSON or the
// error, byte for byte against the .expected files.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../../..');
const PACKAGE = process.env.NEARCACHE_NODE_PACKAGE || path.join(ROOT, 'node');
const { Cache } = require(PACKAGE);
// The addon itself, for its test-only hook (`_panicForTests`, in builds with
// the test-hooks feature); a build without it fails the `panic` steps.
const addon = require(path.join(path.dirname(require.resolve(PACKAGE)), 'nearcache.node'));
const { startRedis } = require(path.join(ROOT, 'node/test/helpers'));

const SCENARIOS = path.join(ROOT, 'tests/conformance/scenarios');
const CONFIGS = path.join(ROOT, 'tests/conformance/configs');

let server;
before(async () => {
  server = await startRedis();
});
after(async () => {
  await server.stop();
});

class Failed extends Error {}
function check(cond, what) {
  if (!cond) throw new Failed(what);
}

/** A scenario byte string: "utf-8 text", {hex}, {repeat, times}; or a wrong type. */
function data(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if ('hex' in v) return Buffer.from(v.hex, 'hex');
  if ('repeat' in v) return Buffer.from(v.repeat.repeat(v.times), 'utf8');
  if ('wrong_type' in v) return 12345; // a number where bytes are expected
  throw new Error(`unknown data ${JSON.stringify(v)}`);
}

/** Whether a step passes {wrong_type} anywhere in its arguments. */
function hasWrongType(v) {
  if (Array.isArray(v)) return v.some(hasWrongType);
  return v !== null && typeof v === 'object' && ('wrong_type' in v || Object.values(v).some(hasWrongType));
}

const same = (a, b) => (a === null || b === null ? a === b : Buffer.isBuffer(a) && a.equals(b));
const show = (v) => (Buffer.isBuffer(v) ? `<${v.toString('hex').slice(0, 80)}>` : JSON.stringify(v));
/** A scenario TTL in ms: a JSON number, or {number: "NaN" | "Infinity" | ...}. */
const ttlMs = (v) => (v !== null && typeof v === 'object' && 'number' in v ? Number(v.number) : v);
/** The write TTL option: absent or 0 is none. */
const ttlOption = (s) => (s.ttl_ms === undefined || s.ttl_ms === 0 ? undefined : ttlMs(s.ttl_ms));

function replyMatches(actual, expected) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => replyMatches(actual[i], e));
  }
  if (expected === null || typeof expected === 'number') return actual === expected;
  const want = data(expected);
  const got = typeof actual === 'string' ? Buffer.from(actual, 'utf8') : actual;
  return Buffer.isBuffer(got) && got.equals(want);
}

/** The typed ops whose result typedMatches compares. */
const TYPED = new Set(
  ('hexists hlen sismember smismember scard zscore zmscore zrange zrank zrevrank zcard zcount lrange lindex llen ' +
    'exists strlen type getbit bitcount incr incrby decr decrby hincrby sadd srem zadd zrem zincrby lpush rpush lpop rpop persist').split(' '),
);

/** A typed result against a scenario value: booleans are 1 / 0, byte strings Buffers (or strings). */
function typedMatches(actual, expected) {
  if (typeof expected === 'boolean') return actual === (expected ? 1 : 0);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((x, i) => typedMatches(actual[i], x));
  }
  if (Buffer.isBuffer(expected)) return same(Buffer.isBuffer(actual) ? actual : Buffer.from(String(actual)), expected);
  return replyMatches(actual, expected);
}

/** An unordered reply (HKEYS, SMEMBERS), sorted by bytes. */
const sortedReply = (xs) => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

class Runner {
  constructor(url) {
    this.url = url;
    this.caches = new Map();
    this.loaderCalled = false;
    this.scripts = new Map(); // lua -> registered script
    this.outsider = null;
  }

  /** A client outside the scenario's caches (no L1): "another client". */
  async outside() {
    if (this.outsider === null) this.outsider = new Cache({ url: this.url, l1: { invalidation: 'off' } });
    return this.outsider;
  }

  async run(step) {
    if (step.op === 'eventually') {
      const deadline = Date.now() + step.within_ms;
      for (;;) {
        try {
          return await this.run(step.step);
        } catch (e) {
          if (!(e instanceof Failed) || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    this.loaderCalled = false;
    let result;
    try {
      result = await this.call(step.op, step);
    } catch (e) {
      if (e instanceof Failed || !e.code) throw e;
      check('error' in step, `unexpected ${e.code}: ${e.message}`);
      check(e.code === step.error, `expected ${step.error}, got ${e.code}: ${e.message}`);
      if (hasWrongType(step)) check(e instanceof TypeError, `a wrong type gave ${e.name}, not a TypeError: ${e.message}`);
      const m = e.message;
      if ('message_is' in step) check(m === step.message_is, `message ${JSON.stringify(m)}`);
      if ('message_prefix' in step) check(m.startsWith(step.message_prefix), `message ${JSON.stringify(m)}`);
      if ('message_contains' in step) check(m.includes(step.message_contains), `message ${JSON.stringify(m)}`);
      if ('message_excludes' in step) check(!m.includes(step.message_excludes), `message ${JSON.stringify(m)}`);
      if ('expect_loader_called' in step) check(this.loaderCalled === step.expect_loader_called, `loader called: ${this.loaderCalled}`);
      return;
    }
    check(!('error' in step), `expected ${step.error}, got ${show(result)}`);
    this.checkResult(step.op, step, result);
  }

  async call(op, s) {
    if (op === 'open') {
      const config = JSON.parse(JSON.stringify(s.config || {}));
      config.redis = config.redis || {};
      if (!('url' in config.redis)) config.redis.url = this.url;
      this.caches.set(s.name || 'a', new Cache(config));
      return undefined;
    }
    if (op === 'panic') {
      check(typeof addon._panicForTests === 'function', 'the addon has no _panicForTests: build it with the test-hooks feature');
      return addon._panicForTests(s.message);
    }
    const c = this.caches.get(s.cache || 'a');
    switch (op) {
      case 'get': return c.get(data(s.key));
      case 'get_local': return c.getLocal(data(s.key));
      case 'get_many': return c.getMany(s.keys.map(data));
      case 'set': return c.set(data(s.key), data(s.value), { ttl: ttlOption(s), nx: !!s.nx, xx: !!s.xx });
      case 'set_many': return c.setMany(s.items.map(([k, v]) => [data(k), data(v)]), { ttl: ttlOption(s) });
      case 'delete': return c.delete(data(s.key));
      case 'expire': return c.expire(data(s.key), ttlMs(s.ttl_ms));
      case 'ttl': return c.ttl(data(s.key));
      case 'hget': return c.hget(data(s.key), data(s.field));
      case 'hmget': return c.hmget(data(s.key), s.fields.map(data));
      case 'hgetall': return c.hgetall(data(s.key));
      case 'hset': return c.hset(data(s.key), s.fields.map(([f, v]) => [data(f), data(v)]));
      case 'hdel': return c.hdel(data(s.key), s.fields.map(data));
      case 'get_or_load':
        return c.getOrLoad(
          data(s.key),
          async () => {
            this.loaderCalled = true;
            if (s.loader && s.loader.fail) throw new Error("the scenario's loader fails");
            return data(s.loader);
          },
          { ttl: ttlOption(s) },
        );
      case 'invalidate_local': return c.invalidateLocal(s.keys.map(data));
      case 'scan': {
        const keys = [];
        for await (const k of c.scan(s.pattern === null ? undefined : data(s.pattern))) keys.push(k);
        return keys;
      }
      case 'delete_prefix': return c.deletePrefix(data(s.prefix));
      case 'command': return c.command(s.args.map(data));
      // Issue 15: typed reads and writes, read, pipelines, transactions, scripts.
      case 'hexists': return c.hexists(data(s.key), data(s.field));
      case 'hlen': return c.hlen(data(s.key));
      case 'hkeys': return c.hkeys(data(s.key));
      case 'hvals': return c.hvals(data(s.key));
      case 'smembers': return c.smembers(data(s.key));
      case 'sismember': return c.sismember(data(s.key), data(s.member));
      case 'smismember': return c.smismember(data(s.key), s.members.map(data));
      case 'scard': return c.scard(data(s.key));
      case 'zscore': return c.zscore(data(s.key), data(s.member));
      case 'zmscore': return c.zmscore(data(s.key), s.members.map(data));
      case 'zrange': return c.zrange(data(s.key), s.start, s.stop, s.withscores ? 'WITHSCORES' : undefined);
      case 'zrank': return c.zrank(data(s.key), data(s.member));
      case 'zrevrank': return c.zrevrank(data(s.key), data(s.member));
      case 'zcard': return c.zcard(data(s.key));
      case 'zcount': return c.zcount(data(s.key), s.min, s.max);
      case 'lrange': return c.lrange(data(s.key), s.start, s.stop);
      case 'lindex': return c.lindex(data(s.key), s.index);
      case 'llen': return c.llen(data(s.key));
      case 'exists': return c.exists(data(s.key));
      case 'strlen': return c.strlen(data(s.key));
      case 'type': return c.type(data(s.key));
      case 'getbit': return c.getbit(data(s.key), s.offset);
      case 'bitcount': return 'start' in s ? c.bitcount(data(s.key), s.start, s.end) : c.bitcount(data(s.key));
      case 'read': return c.read(s.args.map(data));
      case 'incr': return c.incr(data(s.key));
      case 'incrby': return c.incrby(data(s.key), s.by);
      case 'decr': return c.decr(data(s.key));
      case 'decrby': return c.decrby(data(s.key), s.by);
      case 'hincrby': return c.hincrby(data(s.key), data(s.field), s.by);
      case 'sadd': return c.sadd(data(s.key), s.members.map(data));
      case 'srem': return c.srem(data(s.key), s.members.map(data));
      // Scenario pairs are [member, score]; ioredis's zadd takes score, member.
      case 'zadd': return c.zadd(data(s.key), s.members.flatMap(([m, score]) => [ttlMs(score), data(m)]));
      case 'zrem': return c.zrem(data(s.key), s.members.map(data));
      case 'zincrby': return c.zincrby(data(s.key), ttlMs(s.by), data(s.member));
      case 'lpush': return c.lpush(data(s.key), s.values.map(data));
      case 'rpush': return c.rpush(data(s.key), s.values.map(data));
      case 'lpop': return c.lpop(data(s.key));
      case 'rpop': return c.rpop(data(s.key));
      case 'ltrim': return c.ltrim(data(s.key), s.start, s.stop);
      case 'persist': return c.persist(data(s.key));
      case 'pipeline': {
        const commands = s.commands.map((args) => args.map(data));
        return (s.transaction ? c.multi(commands) : c.pipeline(commands)).exec();
      }
      case 'watch_exec': {
        const tx = await c.watch(s.watch.map(data));
        try {
          // "between": another client's commands after WATCH, before EXEC.
          for (const args of s.between || []) await (await this.outside()).command(args.map(data));
          for (const args of s.queue) tx.queue(args.map(data));
        } catch (e) {
          await tx.reset();
          throw e;
        }
        return tx.exec();
      }
      case 'script': {
        if (s.flush_scripts_first) await (await this.outside()).command(['SCRIPT', 'FLUSH']);
        if (!this.scripts.has(s.lua)) this.scripts.set(s.lua, c.registerScript(s.lua));
        return this.scripts.get(s.lua).call(s.keys.map(data), s.args.map(data));
      }
      case 'stats': return c.stats();
      case 'close': return c.close();
      default: throw new Error(`unknown op ${op}`);
    }
  }

  checkResult(op, s, got) {
    if ('expect_loader_called' in s) check(this.loaderCalled === s.expect_loader_called, `loader called: ${this.loaderCalled}`);
    const e = s.expect;
    const msg = () => `expected ${JSON.stringify(e)}, got ${Array.isArray(got) ? got.map(show) : show(got)}`;
    switch (op) {
      case 'open': case 'set_many': case 'invalidate_local': case 'close': case 'panic':
        return;
      case 'get_local':
        if (e && e.miss) return check(got === undefined, `expected an L1 miss, got ${show(got)}`);
        return check(got !== undefined && same(got, data(e)), msg());
      case 'get': case 'hget': case 'get_or_load':
        return check(same(got, data(e)), msg());
      case 'get_many': case 'hmget':
        return check(got.length === e.length && e.every((x, i) => same(got[i], data(x))), msg());
      case 'set': case 'expire':
        return check(got === e, msg());
      case 'delete':
        return check(got > 0 === e, msg());
      case 'hset': case 'hdel': case 'delete_prefix':
        return check(got === e, msg());
      case 'ttl':
        if (e === 'missing') return check(got === null, msg());
        if (e === 'persistent') return check(got === Infinity, msg());
        return check(typeof got === 'number' && e.min_ms <= got && got <= e.max_ms, msg());
      case 'hgetall': {
        const entries = Object.entries(got).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        return check(
          entries.length === e.length && e.every(([f, v], i) => same(Buffer.from(entries[i][0]), data(f)) && same(entries[i][1], data(v))),
          msg(),
        );
      }
      case 'scan': {
        const keys = [...new Set(got.map((k) => k.toString('hex')))].sort((a, b) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
        return check(keys.length === e.length && e.every((k, i) => keys[i] === data(k).toString('hex')), msg());
      }
      case 'command':
        if ('expect' in s) check(replyMatches(got, e), msg());
        if ('expect_prefix' in s) {
          const p = data(s.expect_prefix);
          check(Buffer.isBuffer(got) && got.subarray(0, p.length).equals(p), `expected prefix ${show(p)}, got ${show(got)}`);
        }
        if ('expect_below' in s) check(typeof got === 'number' && got < s.expect_below, `got ${show(got)}`);
        return undefined;
      case 'stats':
        for (const [name, want] of Object.entries(e)) check(got[name] === want, `stats.${name}: expected ${want}, got ${got[name]}`);
        return undefined;
      // ioredis's shapes: yes/no answers are 1 / 0 (typedMatches takes
      // `true` as 1), LTRIM resolves 'OK' where the scenario expects no value.
      case 'ltrim':
        return check(e === null && got === 'OK', msg());
      case 'hkeys': case 'hvals': case 'smembers':
        return check(typedMatches(sortedReply(got), sortedReply(e.map(data))), msg());
      case 'pipeline': case 'watch_exec':
        return check(
          Array.isArray(got) &&
            got.length === e.length &&
            e.every((want, i) => {
              const [err, value] = got[i];
              if (want !== null && typeof want === 'object' && 'error' in want) {
                return err instanceof Error && err.code === want.error && (!want.message_contains || err.message.includes(want.message_contains));
              }
              return err === null && replyMatches(value, want);
            }),
          msg(),
        );
      case 'read': case 'script':
        return check(replyMatches(got, e), msg());
      default:
        if (TYPED.has(op)) return check(typedMatches(got, e), msg());
        throw new Error(`unknown op ${op}`);
    }
  }
}

for (const file of fs.readdirSync(SCENARIOS).filter((f) => f.endsWith('.json')).sort()) {
  test(`scenario ${file}`, async () => {
    const scenario = JSON.parse(fs.readFileSync(path.join(SCENARIOS, file), 'utf8'));
    const admin = new Cache({ url: server.url, l1: { invalidation: 'off' } });
    await admin.command(['FLUSHDB']);
    admin.close();
    const runner = new Runner(server.url);
    try {
      for (const [i, step] of scenario.steps.entries()) {
        try {
          await runner.run(step);
        } catch (e) {
          e.message = `${file} step ${i} ${JSON.stringify(step).slice(0, 300)}: ${e.message}`;
          throw e;
        }
      }
    } finally {
      for (const c of runner.caches.values()) c.close();
      if (runner.outsider !== null) runner.outsider.close();
    }
  });
}

const configFiles = fs.readdirSync(CONFIGS).filter((f) => /\.(toml|json)$/.test(f) && !f.includes('.expected')).sort();
for (const file of configFiles) {
  test(`config ${file}`, () => {
    const stem = file.replace(/\.(toml|json)$/, '');
    const okPath = path.join(CONFIGS, `${stem}.expected.json`);
    const errPath = path.join(CONFIGS, `${stem}.expected-error.txt`);
    assert.notEqual(fs.existsSync(okPath), fs.existsSync(errPath), `${file}: one .expected file needed`);
    if (fs.existsSync(okPath)) {
      const c = Cache.fromConfig(path.join(CONFIGS, file));
      try {
        assert.equal(c.configJson(), fs.readFileSync(okPath, 'utf8').replace(/\n$/, ''));
      } finally {
        c.close();
      }
    } else {
      assert.throws(() => Cache.fromConfig(path.join(CONFIGS, file)), (e) => {
        assert.equal(e.code, 'NC_CONFIG');
        assert.equal(e.message, fs.readFileSync(errPath, 'utf8').replace(/\n$/, ''));
        return true;
      });
    }
  });
}
