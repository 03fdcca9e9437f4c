'use strict';
// nearcache/otel: stats() as OpenTelemetry instruments, read back with the
// SDK's MetricReader.collect() (and an InMemoryMetricExporter).
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  MeterProvider,
  MetricReader,
  DataPointType,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  AggregationTemporality,
} = require('@opentelemetry/sdk-metrics');
const { Cache } = require('nearcache');
const { instrument } = require('nearcache/otel'); // through package.json "exports"
const { version } = require('../package.json');
const { startRedis, eventually, cacheFactory } = require('./helpers');

let server;
const caches = cacheFactory(Cache, () => server.url);
before(async () => {
  server = await startRedis();
});
after(async () => {
  caches.closeAll();
  await server.stop();
});

class TestReader extends MetricReader {
  async onShutdown() {}
  async onForceFlush() {}
}

// name -> { metric, points: Map(JSON of attributes without the caller's own -> value) }
async function collect(reader) {
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  const found = new Map();
  for (const scope of resourceMetrics.scopeMetrics) {
    assert.equal(scope.scope.name, 'nearcache');
    assert.equal(scope.scope.version, version);
    for (const metric of scope.metrics) found.set(metric.descriptor.name, metric);
  }
  return found;
}

function points(metric) {
  const out = new Map();
  for (const p of metric.dataPoints) {
    const { 'nearcache.cache.name': _own, ...rest } = p.attributes;
    out.set(JSON.stringify(Object.entries(rest).sort()), p.value);
  }
  return out;
}

const value = (metric) => {
  assert.equal(metric.dataPoints.length, 1, metric.descriptor.name);
  return metric.dataPoints[0].value;
};
const key = (attributes) => JSON.stringify(Object.entries(attributes).sort());

test('stats become instruments', async () => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const cache = caches.open({ l1: { max_bytes: '1MiB' } });
  const other = caches.open();
  instrument(cache, { meterProvider: provider, attributes: { 'nearcache.cache.name': 'test' } });
  const p = `otel${process.pid}:`;
  await cache.set(`${p}k`, 'v');
  assert.equal(String(await cache.get(`${p}k`)), 'v'); // miss, fill
  assert.equal(String(await cache.get(`${p}k`)), 'v'); // hit
  assert.equal(await cache.get(`${p}absent`), null); // miss
  assert.equal(await cache.get(`${p}absent`), null); // negative hit
  await other.set(`${p}k`, 'w'); // invalidation from the server
  await eventually(() => cache.getLocal(`${p}k`) === undefined);
  cache.invalidateLocal(); // a manual flush
  await assert.rejects(cache.command(['INCR', `${p}k`])); // "w" is not an integer
  const stats = cache.stats();
  const m = await collect(reader);

  for (const [name, field] of [
    ['nearcache.l1.hits', 'l1_hits'],
    ['nearcache.l1.negative_hits', 'l1_negative_hits'],
    ['nearcache.l1.misses', 'l1_misses'],
    ['nearcache.l1.fills', 'fills'],
    ['nearcache.l1.invalidations', 'invalidations'],
    ['nearcache.l1.evictions', 'evictions'],
  ]) {
    const metric = m.get(name);
    assert.equal(metric.dataPointType, DataPointType.SUM, name);
    assert.equal(metric.isMonotonic, true, name);
    assert.equal(value(metric), stats[field], name);
  }
  assert.ok(value(m.get('nearcache.l1.hits')) >= 1);
  assert.ok(value(m.get('nearcache.l1.negative_hits')) >= 1);
  assert.ok(value(m.get('nearcache.l1.invalidations')) >= 1);
  for (const [name, field, unit] of [
    ['nearcache.l1.bytes', 'l1_bytes', 'By'],
    ['nearcache.l1.max_bytes', 'l1_max_bytes', 'By'],
    ['nearcache.l1.entries', 'l1_entries', '{entry}'],
  ]) {
    const metric = m.get(name);
    assert.equal(metric.dataPointType, DataPointType.SUM, name);
    assert.equal(metric.isMonotonic, false, name);
    assert.equal(metric.descriptor.unit, unit, name);
    assert.equal(value(metric), stats[field], name);
  }
  assert.equal(value(m.get('nearcache.l1.max_bytes')), 1 << 20);

  const flushes = points(m.get('nearcache.l1.flushes'));
  assert.deepEqual(
    [...flushes.keys()].sort(),
    ['disconnect', 'nil', 'health', 'manual', 'topology', 'partial'].map((cause) => key({ cause })).sort(),
  );
  assert.ok(flushes.get(key({ cause: 'manual' })) >= 1);
  assert.equal(flushes.get(key({ cause: 'manual' })), stats.flushes.manual);
  const errors = points(m.get('nearcache.errors'));
  assert.ok(errors.get(key({ 'error.type': 'NC_REDIS' })) >= 1);
  const commands = points(m.get('nearcache.commands'));
  assert.equal(commands.get(key({ 'db.operation.name': 'get' })), stats.latency.get.count);
  const durations = m.get('nearcache.command.duration');
  assert.equal(durations.dataPointType, DataPointType.GAUGE);
  assert.equal(durations.descriptor.unit, 's');
  const byQuantile = points(durations);
  const max = byQuantile.get(key({ 'db.operation.name': 'get', quantile: '1' }));
  assert.ok(Math.abs(max - stats.latency.get.max_us / 1e6) < 1e-9);
  const median = byQuantile.get(key({ 'db.operation.name': 'get', quantile: '0.5' }));
  assert.ok(median > 0 && median <= max);
  for (const metric of m.values()) {
    for (const point of metric.dataPoints) assert.equal(point.attributes['nearcache.cache.name'], 'test');
  }
  await provider.shutdown();
});

test('stop() removes the callback; an exporter sees the instruments', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const periodic = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader, periodic] });
  const cache = caches.open();
  const handle = instrument(cache, { meterProvider: provider });
  assert.equal(handle.instruments.length, 16);
  await cache.get('otel:none');
  await periodic.forceFlush();
  const exported = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  const misses = exported.find((metric) => metric.descriptor.name === 'nearcache.l1.misses');
  assert.equal(misses.dataPoints[0].value, 1);
  handle.stop();
  await cache.get('otel:none2'); // a miss the stopped instruments no longer see
  assert.equal(cache.stats().l1_misses, 2);
  const after = await collect(reader);
  const stale = after.get('nearcache.l1.misses');
  assert.ok(stale === undefined || stale.dataPoints.every((p) => p.value === 1));
  await provider.shutdown();
});

test('without @opentelemetry/api, instrument() says what to install', async () => {
  const { execFile } = require('node:child_process');
  // A child whose resolver cannot find the API package.
  const code = `
    const Module = require('node:module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request === '@opentelemetry/api') throw Object.assign(new Error('not found'), { code: 'MODULE_NOT_FOUND' });
      return resolve.call(this, request, ...rest);
    };
    const { instrument } = require(${JSON.stringify(require.resolve('nearcache/otel'))});
    try { instrument({}); } catch (err) { console.log(err.message); }
  `;
  const stdout = await new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', code], (err, out) => (err ? reject(err) : resolve(out))),
  );
  assert.match(stdout, /npm install @opentelemetry\/api/);
});
