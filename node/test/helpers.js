'use strict';
// Test servers through the shared launcher (tests/redis-launcher): a
// throwaway redis-server on a free loopback port, stopped when we close the
// launcher's stdin (or when this process dies and the pipe closes).
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

module.exports = { startRedis, eventually };
