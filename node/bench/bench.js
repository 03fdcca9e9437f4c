#!/usr/bin/env node
// nearcache for Node beside its baselines, in one run, on one launched
// redis-server and one key set (1000 keys, 1 KiB values):
//
//   hit path:    getLocal, getLocalInto, `await get` (L1 hits)
//                vs a JS Map get (plus a Buffer copy, the floor of a hit that
//                returns a Buffer of the caller's own) vs node-redis's
//                client-side cache hit
//   throughput:  100 concurrent GETs in flight through nearcache (L1 on: hits;
//                L1 off: every GET goes to Redis) vs ioredis
//                (enableAutoPipelining) vs node-redis vs valkey-glide
//                (@valkey/valkey-glide, skipped when not installed:
//                `npm install --no-save @valkey/valkey-glide`)
//
//   one GET at a time: nearcache with L1 off vs ioredis (a miss's round trip)
//
//   HGET hit:    `await hget` from L1 vs node-redis's client-side cache hit
//   pipeline:    100 mixed commands (50 HGETs of fields that repeat every
//                round, 50 INCRs) through nearcache's pipeline (L1 off, L1 on)
//                vs ioredis's pipeline; the same chain drives both
//
//   node bench/bench.js [--seconds 2] [--url redis://...] [--json out.json]
//
// --url uses that server instead of launching one (bench/report runs every
// language against one server); --json also writes the rows to a file.
//
// Prints ns/op and ops/s with ratios. A benchmark, not a test: nothing here
// asserts a time.
'use strict';
const { Cache } = require('..');
const { startRedis } = require('../test/helpers');

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(arg('--seconds')) || 2;
const jsonOut = arg('--json');
const fixedUrl = arg('--url');
const KEYS = 1000;
const VALUE = Buffer.alloc(1024, 'x');
const keys = Array.from({ length: KEYS }, (_, i) => `bench:${i}`);

const HASHES = 50;

// One 100-command pipeline: 50 HGETs of the same fields every round (an L1
// can answer them) and 50 INCRs of counters nobody reads.
async function mixedPipeline(client, round) {
  const pipe = client.pipeline();
  for (let i = 0; i < HASHES; i++) {
    pipe.hget(`bench:h:${i}`, 'f');
    pipe.incr(`bench:ctr:${(round + i) % HASHES}`);
  }
  const replies = await pipe.exec();
  if (replies.length !== 2 * HASHES) throw new Error(`pipeline returned ${replies.length} replies`);
}

function optional(name) {
  try {
    return require(name);
  } catch {
    return null;
  }
}

// Each timer returns { ns, cpu }: wall-clock ns per op, and this process's
// CPU time (user + system, every thread: core's runtime too) per op. On a
// shared machine the CPU figure is the steadier one.
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
};

// Runs `fn(i)` synchronously in batches until `seconds` have passed.
function timeSync(fn) {
  const batch = 10000;
  for (let i = 0; i < batch; i++) fn(i); // warm-up
  let ops = 0;
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < until) {
    for (let i = 0; i < batch; i++) fn(ops + i);
    ops += batch;
    now = process.hrtime.bigint();
  }
  return { ns: Number(now - start) / ops, cpu: (cpuNow() - cpu) / ops };
}

// Awaits `fn(i)` one at a time.
async function timeSequential(fn) {
  for (let i = 0; i < 2000; i++) await fn(i);
  let ops = 0;
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < until) {
    for (let i = 0; i < 1000; i++) await fn(ops + i);
    ops += 1000;
    now = process.hrtime.bigint();
  }
  return { ns: Number(now - start) / ops, cpu: (cpuNow() - cpu) / ops };
}

// Keeps `width` calls of `fn(i)` in flight until `seconds` have passed.
async function timeConcurrent(fn, width = 100) {
  let ops = 0;
  let stop = false;
  const worker = async (w) => {
    let i = w;
    while (!stop) {
      await fn(i);
      i += width;
      ops++;
    }
  };
  // warm-up
  await Promise.all(Array.from({ length: width }, (_, w) => fn(w)));
  const cpu = cpuNow();
  const start = process.hrtime.bigint();
  const timer = setTimeout(() => {
    stop = true;
  }, seconds * 1000);
  await Promise.all(Array.from({ length: width }, (_, w) => worker(w)));
  clearTimeout(timer);
  return { ns: Number(process.hrtime.bigint() - start) / ops, cpu: (cpuNow() - cpu) / ops };
}

// Ratios to each base: time / base time (hit path; CPU time too), or
// throughput / base throughput (concurrent GETs).
function row(name, t, bases, throughput = false) {
  const ops = 1e9 / t.ns;
  const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-').padStart(8);
  const ratios = bases.map((b) => (b ? fmt(throughput ? b.ns / t.ns : t.ns / b.ns) : fmt(NaN)));
  if (!throughput) ratios.push(bases[0] ? fmt(t.cpu / bases[0].cpu) : fmt(NaN));
  return `${name.padEnd(46)} ${t.ns.toFixed(0).padStart(7)} ns ${t.cpu.toFixed(0).padStart(7)} cpu-ns ${ops.toFixed(0).padStart(10)} ops/s ${ratios.join(' ')}`;
}

async function main() {
  const server = fixedUrl ? { url: fixedUrl, stop: async () => {} } : await startRedis();
  const jsonRows = [];
  const record = (section, list) => {
    for (const [name, t] of list) jsonRows.push({ section, name, ns_per_op: t.ns, cpu_ns_per_op: t.cpu });
  };
  const out = [];
  const log = (line) => {
    out.push(line);
    console.log(line);
  };
  try {
    const Redis = require('ioredis');
    const { createClient } = require('redis');
    const glide = optional('@valkey/valkey-glide');

    // Stored uncompressed, so every client reads the same 1 KiB bytes.
    const compression = { algorithm: 'none' };
    const cache = new Cache({ url: server.url, compression });
    const direct = new Cache({ url: server.url, compression, l1: { invalidation: 'off' } });
    await cache.setMany(keys.map((k) => [k, VALUE]));
    await cache.getMany(keys); // fill L1
    const map = new Map(keys.map((k) => [k, VALUE]));
    const csc = createClient({ url: server.url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
    csc.on('error', () => {});
    await csc.connect();
    for (const k of keys) await csc.get(k); // fill node-redis's cache
    const into = new Uint8Array(4096);

    log(`node ${process.version}, ${KEYS} keys x ${VALUE.length} B, ${seconds} s per case`);
    log('');
    log('hit path (one caller)                      wall/op  process CPU/op       rate  wall and CPU / node-redis CSC hit');
    const base = await timeSequential((i) => csc.get(keys[i % KEYS]));
    const rows = [
      ['JS Map get', timeSync((i) => map.get(keys[i % KEYS]))],
      ['JS Map get + Buffer.from(value) copy', timeSync((i) => Buffer.from(map.get(keys[i % KEYS])))],
      ['nearcache getLocal (hit)', timeSync((i) => cache.getLocal(keys[i % KEYS]))],
      ['nearcache getLocalInto (hit)', timeSync((i) => cache.getLocalInto(keys[i % KEYS], into))],
      ['nearcache await get (hit)', await timeSequential((i) => cache.get(keys[i % KEYS]))],
      ['node-redis await get (client-side cache hit)', base],
    ];
    for (const [name, t] of rows) log(row(name, t, [base]));
    record('hit', rows);

    log('');
    log('100 concurrent GETs                        wall/op  process CPU/op       rate  throughput / ioredis, / glide');
    const io = new Redis(server.url, { enableAutoPipelining: true });
    io.on('error', () => {});
    const nr = createClient({ url: server.url });
    nr.on('error', () => {});
    await nr.connect();
    const ioNs = await timeConcurrent((i) => io.getBuffer(keys[i % KEYS]));
    const tput = [
      ['nearcache get, L1 on (hits)', await timeConcurrent((i) => cache.get(keys[i % KEYS]))],
      ['nearcache get, L1 off (every GET to Redis)', await timeConcurrent((i) => direct.get(keys[i % KEYS]))],
      ['ioredis getBuffer, enableAutoPipelining', ioNs],
      ['node-redis get', await timeConcurrent((i) => nr.get(keys[i % KEYS]))],
    ];
    let glideClient = null;
    let glideNs = null;
    if (glide) {
      const { port } = new URL(server.url);
      glideClient = await glide.GlideClient.createClient({ addresses: [{ host: '127.0.0.1', port: Number(port) }] });
      glideNs = await timeConcurrent((i) => glideClient.get(keys[i % KEYS], { decoder: glide.Decoder.Bytes }));
      tput.push(['valkey-glide get', glideNs]);
    } else {
      log('(valkey-glide not installed: npm install --no-save @valkey/valkey-glide)');
    }
    for (const [name, t] of tput) log(row(name, t, [ioNs, glideNs], true));
    record('concurrent', tput);

    log('');
    log('one GET at a time (round trip)             wall/op  process CPU/op       rate  wall and CPU / ioredis');
    const ioSeq = await timeSequential((i) => io.getBuffer(keys[i % KEYS]));
    const seq = [
      ['nearcache get, L1 off', await timeSequential((i) => direct.get(keys[i % KEYS]))],
      ['ioredis getBuffer', ioSeq],
    ];
    for (const [name, t] of seq) log(row(name, t, [ioSeq]));
    record('miss', seq);

    log('');
    log('HGET hit (one caller)                      wall/op  process CPU/op       rate  wall and CPU / node-redis CSC hit');
    const hashes = Array.from({ length: HASHES }, (_, i) => `bench:h:${i}`);
    for (const h of hashes) await cache.hset(h, { f: VALUE, g: 'other' });
    for (const h of hashes) {
      await cache.hget(h, 'f'); // fill L1
      await csc.hGet(h, 'f'); // fill node-redis's cache
    }
    const cscHget = await timeSequential((i) => csc.hGet(hashes[i % HASHES], 'f'));
    const hget = [
      ['nearcache await hget (hit)', await timeSequential((i) => cache.hget(hashes[i % HASHES], 'f'))],
      ['node-redis await hGet (client-side cache hit)', cscHget],
    ];
    for (const [name, t] of hget) log(row(name, t, [cscHget]));
    record('hget hit', hget);

    log('');
    log('pipeline, 100 mixed commands               wall/op  process CPU/op       rate  wall and CPU / ioredis');
    const ioPipe = await timeSequential((i) => mixedPipeline(io, i));
    const pipes = [
      ['nearcache pipeline, L1 off', await timeSequential((i) => mixedPipeline(direct, i))],
      ['nearcache pipeline, L1 on (HGETs from L1)', await timeSequential((i) => mixedPipeline(cache, i))],
      ['ioredis pipeline', ioPipe],
    ];
    for (const [name, t] of pipes) log(row(name, t, [ioPipe]));
    record('pipeline', pipes);

    if (jsonOut) {
      const doc = { node: process.version, keys: KEYS, value_bytes: VALUE.length, seconds, rows: jsonRows };
      require('node:fs').writeFileSync(jsonOut, `${JSON.stringify(doc, null, 2)}\n`);
    }

    io.disconnect();
    await nr.quit();
    await csc.quit();
    if (glideClient) glideClient.close();
    cache.close();
    direct.close();
  } finally {
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
