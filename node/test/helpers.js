'use strict';
// Test servers through the shared launcher (tests/redis-launcher): a
// throwaway redis-server on a free loopback port, stopped when we close the
// launcher's stdin (or when this process dies and the pipe closes).
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const LAUNCHER = process.env.NEARCACHE_LAUNCHER || path.resolve(__dirname, '../../tests/redis-launcher');

async function startRedis(args = []) {
  const child = spawn(LAUNCHER, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const it = lines[Symbol.asyncIterator]();
  const info = {};
  while (!info.pid) {
    const { value, done } = await it.next();
    if (done) throw new Error(`the Redis launcher exited (status ${child.exitCode})`);
    const [k, v] = value.split('=');
    info[k] = v;
  }
  return {
    url: info.url,
    pid: Number(info.pid),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.end();
      await exited;
    },
  };
}

/** Polls `check` until it returns a truthy value, at most `ms`. */
async function eventually(check, ms = 2000) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Opens caches on `url()` (with `options` on top) and closes every one of
 * them in `closeAll()`; `track(c)` adds a cache opened otherwise.
 */
function cacheFactory(Cache, url) {
  const caches = [];
  return {
    open(options = {}) {
      return this.track(new Cache({ url: url(), ...options }));
    },
    track(c) {
      caches.push(c);
      return c;
    },
    closeAll() {
      for (const c of caches.splice(0)) c.close();
    },
  };
}

/** An assert.rejects / assert.throws check: `err.code`, `err.name`, a message. */
function assertCode(code, name = 'Error') {
  return (err) => {
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    assert.equal(err.name, name);
    assert.ok(err.message.length > 0);
    return true;
  };
}

/** Fails when `text` shows `secret`. */
function assertNoSecret(text, secret) {
  assert.ok(!String(text).includes(secret), `the secret is shown: ${text}`);
}

module.exports = { startRedis, eventually, cacheFactory, assertCode, assertNoSecret };
