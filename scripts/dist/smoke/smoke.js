'use strict';
// Smoke test of the installed npm tarball (scripts/dist/test.sh):
// node smoke.js URL VERSION. get/set, invalidation of an L1 entry by a write
// from outside (redis-cli), and typed errors, against a launched redis-server.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const nearcache = require('nearcache');

const [url, version] = process.argv.slice(2);

async function main() {
  assert.equal(nearcache.version, version);
  const resolved = require.resolve('nearcache');
  assert.ok(resolved.includes('node_modules'), `not the installed package: ${resolved}`);
  const cache = new nearcache.Cache({ url });
  await cache.set('smoke:js', 'one');
  assert.equal(String(await cache.get('smoke:js')), 'one');
  assert.equal(String(cache.getLocal('smoke:js')), 'one', 'the value is not in L1 after a read');
  assert.equal(await cache.get('smoke:missing'), null);

  // A write from outside nearcache: Redis invalidates the L1 copy.
  execFileSync('redis-cli', ['-u', url, 'SET', 'smoke:js', 'two']);
  const deadline = Date.now() + 5000;
  while (String(await cache.get('smoke:js')) !== 'two') {
    assert.ok(Date.now() < deadline, 'L1 still serves the old value 5 s after an outside write');
    await new Promise((r) => setTimeout(r, 10));
  }

  assert.throws(() => new nearcache.Cache({ url, l1: { max_bytes: 'lots' } }), (e) => e.code === nearcache.codes.Config);
  await assert.rejects(cache.get(Buffer.alloc(1 << 20, 'k')), (e) => e.code === nearcache.codes.InvalidArgument);
  // The subpath exports resolve inside the installed package.
  assert.ok(Object.keys(require('nearcache/keyv')).length > 0, 'nearcache/keyv exports nothing');
  assert.equal(typeof require('nearcache/otel').instrument, 'function');
  cache.close();
  console.log(`node: nearcache ${nearcache.version} from ${resolved}: get/set, invalidation, errors ok`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
