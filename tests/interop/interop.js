'use strict';
// The Node side of the interop and consistency runs (driven by run.py);
// same protocol as interop.py:
//   node interop.js write URL PREFIX CASES
//   node interop.js read URL CASES PREFIX...
//   node interop.js watch URL KEYPREFIX NKEYS SECONDS MAXREADS OUT [path=value...]
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { Cache } = require(process.env.NEARCACHE_NODE || path.resolve(__dirname, '../../node'));

function loadCases(file) {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [name, algorithm, minSize, hex] = l.split(' ');
      return { name, algorithm, minSize: Number(minSize), value: hex === '-' ? Buffer.alloc(0) : Buffer.from(hex, 'hex') };
    });
}

// `a.b=v` settings as the options tree; v is JSON when it parses (as nc_config_set).
function options(url, settings) {
  const tree = { url };
  for (const s of settings) {
    const i = s.indexOf('=');
    const text = s.slice(i + 1);
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    const parts = s.slice(0, i).split('.');
    let node = tree;
    for (const p of parts.slice(0, -1)) node = node[p] ??= {};
    node[parts[parts.length - 1]] = value;
  }
  return tree;
}

const describe = (v) => (v == null ? String(v) : `${v.length} bytes ${v.subarray(0, 12).toString('hex')}`);

async function write(url, prefix, casesFile) {
  const caches = new Map();
  for (const c of loadCases(casesFile)) {
    const cfg = `${c.algorithm}/${c.minSize}`;
    if (!caches.has(cfg)) caches.set(cfg, new Cache({ url, compression: { algorithm: c.algorithm, min_size: c.minSize } }));
    await caches.get(cfg).set(prefix + c.name, c.value);
  }
  for (const c of caches.values()) c.close();
  return 0;
}

async function read(url, casesFile, prefixes) {
  const cases = loadCases(casesFile);
  let failures = 0;
  const cache = new Cache({ url });
  for (const prefix of prefixes) {
    const keys = cases.map((c) => prefix + c.name);
    for (const round of ['miss', 'hit']) {
      for (let i = 0; i < cases.length; i++) {
        let got;
        try {
          got = await cache.get(keys[i]);
        } catch (err) {
          failures++;
          console.log(`node read ${keys[i]} (${round}): ${err.code}: ${err.message}`);
          continue;
        }
        if (!got || !got.equals(cases[i].value)) {
          failures++;
          console.log(`node read ${keys[i]} (${round}): got ${describe(got)}, want ${describe(cases[i].value)}`);
        }
      }
    }
    cache.invalidateLocal(keys);
    let many;
    try {
      many = await cache.getMany(keys);
    } catch (err) {
      failures++;
      console.log(`node getMany under ${prefix}: ${err.code}: ${err.message}`);
      continue;
    }
    for (let i = 0; i < cases.length; i++) {
      if (!many[i] || !many[i].equals(cases[i].value)) {
        failures++;
        console.log(`node getMany ${keys[i]}: got ${describe(many[i])}, want ${describe(cases[i].value)}`);
      }
    }
  }
  cache.close();
  console.log(`node reader: ${cases.length * prefixes.length} keys, ${failures} mismatches`);
  return failures ? 1 : 0;
}

const nowNs = () => Math.round((performance.timeOrigin + performance.now()) * 1e6);

async function watch(url, keyprefix, nkeys, seconds, maxreads, out, settings) {
  const cache = new Cache(options(url, settings));
  const keys = Array.from({ length: nkeys }, (_, i) => `${keyprefix}${i}`);
  await cache.get(keys[0]); // connects
  process.stdout.write('ready\n');
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  const reads = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  while (performance.now() < deadline && reads.length < maxreads) {
    for (let i = 0; i < nkeys; i++) {
      const started = nowNs();
      try {
        const v = await cache.get(keys[i]);
        reads.push(`${i} ${v ? Number(v.toString()) : 0} ${started}\n`);
      } catch {
        errors++;
      }
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const s = cache.stats();
  cache.close();
  fs.writeFileSync(out, reads.join(''));
  console.log(`node watcher: ${reads.length} reads, ${errors} errors, l1_hits ${s.l1_hits}, l1_misses ${s.l1_misses}`);
  return 0;
}

async function main(argv) {
  const [mode, url, ...rest] = argv;
  if (mode === 'write') return write(url, rest[0], rest[1]);
  if (mode === 'read') return read(url, rest[0], rest.slice(1));
  if (mode === 'watch') {
    const [keyprefix, nkeys, seconds, maxreads, out, ...settings] = rest;
    return watch(url, keyprefix, Number(nkeys), Number(seconds), Number(maxreads), out, settings);
  }
  console.error('usage: interop.js write|read|watch ...');
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
