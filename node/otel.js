'use strict';
// OpenTelemetry metrics for a cache: `instrument(cache, { meterProvider })`
// publishes cache.stats() as observable instruments through
// @opentelemetry/api only (an optional peer dependency; the SDK, exporter
// and meter provider are the application's). One batch callback reads the
// stats once per collection; nothing is recorded between collections.
//
// Names, units and attributes are the same in every nearcache language (the
// README's OpenTelemetry table). Core's stats carry latency summaries, not
// histogram buckets, and the API has no asynchronous histogram, so command
// latency is the gauge `nearcache.command.duration` (seconds, since the
// cache was created) with a `quantile` attribute (0.5, 0.99, 0.999 and 1
// for the maximum), beside the counter `nearcache.commands`.

const { version } = require('./package.json');

function api() {
  try {
    return require('@opentelemetry/api');
  } catch (err) {
    const e = new Error('nearcache/otel needs the @opentelemetry/api package: npm install @opentelemetry/api');
    e.cause = err;
    throw e;
  }
}

// [instrument name, unit, description, stats() key]
const COUNTERS = [
  ['nearcache.l1.hits', '{hit}', 'L1 lookups answered with a value.', 'l1_hits'],
  ['nearcache.l1.negative_hits', '{hit}', 'L1 lookups answered with a cached absence.', 'l1_negative_hits'],
  ['nearcache.l1.misses', '{miss}', 'L1 lookups that went to Redis.', 'l1_misses'],
  ['nearcache.l1.fills', '{entry}', 'Values inserted into L1 after a Redis read.', 'fills'],
  [
    'nearcache.l1.fills_discarded',
    '{entry}',
    'Fills dropped because the key was invalidated while the read was in flight.',
    'fills_discarded',
  ],
  ['nearcache.l1.invalidations', '{key}', 'Keys invalidated in L1.', 'invalidations'],
  ['nearcache.l1.evictions', '{entry}', 'L1 entries evicted for space.', 'evictions'],
  ['nearcache.reconnects', '{connection}', 'Redis connections re-established after a loss.', 'reconnects'],
  ['nearcache.stale_served', '{read}', 'Reads answered with stale data under l1.stale_if_error.', 'stale_served'],
];
const LEVELS = [
  ['nearcache.l1.entries', '{entry}', 'Entries in L1.', 'l1_entries'],
  ['nearcache.l1.bytes', 'By', 'Bytes charged to L1 (key, decompressed value, per-entry overhead).', 'l1_bytes'],
  ['nearcache.l1.max_bytes', 'By', 'The L1 bound, l1.max_bytes (0 when L1 is off).', 'l1_max_bytes'],
];
const FLUSH_CAUSES = ['disconnect', 'nil', 'health', 'manual', 'topology', 'partial'];
const QUANTILES = [
  ['0.5', 'p50_us'],
  ['0.99', 'p99_us'],
  ['0.999', 'p999_us'],
  ['1', 'max_us'],
];

/**
 * Publishes `cache.stats()` as instruments of the meter `nearcache` from
 * `options.meterProvider` (the global one by default); `options.attributes`
 * are added to every observation. Returns `{ instruments, stop() }`: stop()
 * removes the callback and drops the reference to the cache.
 */
function instrument(cache, options = {}) {
  const otel = api();
  const provider = options.meterProvider ?? otel.metrics.getMeterProvider();
  const meter = provider.getMeter('nearcache', version);
  const base = { ...(options.attributes ?? {}) };
  const counters = COUNTERS.map(([name, unit, description, key]) => [
    meter.createObservableCounter(name, { unit, description }),
    key,
  ]);
  const levels = LEVELS.map(([name, unit, description, key]) => [
    meter.createObservableUpDownCounter(name, { unit, description }),
    key,
  ]);
  const flushes = meter.createObservableCounter('nearcache.l1.flushes', {
    unit: '{flush}',
    description: 'Whole-L1 flushes, by cause.',
  });
  const errors = meter.createObservableCounter('nearcache.errors', {
    unit: '{error}',
    description: 'Errors returned, by error code (error.type).',
  });
  const commands = meter.createObservableCounter('nearcache.commands', {
    unit: '{command}',
    description: 'Operations timed, by db.operation.name (l1_get is sampled: one lookup in 1024).',
  });
  const durations = meter.createObservableGauge('nearcache.command.duration', {
    unit: 's',
    description: 'Operation latency since the cache was created, by db.operation.name and quantile (1 = maximum).',
  });
  const observables = [...counters.map(([i]) => i), ...levels.map(([i]) => i), flushes, errors, commands, durations];

  let target = cache;
  const callback = (result) => {
    if (target === null) return;
    let stats;
    try {
      stats = target.stats();
    } catch (err) {
      if (err && err.code === 'NC_CLOSED') return; // a closed cache has nothing more to say
      throw err;
    }
    for (const [instrument, key] of [...counters, ...levels]) result.observe(instrument, stats[key], base);
    for (const cause of FLUSH_CAUSES) result.observe(flushes, stats.flushes[cause], { ...base, cause });
    for (const [code, count] of Object.entries(stats.errors)) {
      result.observe(errors, count, { ...base, 'error.type': code });
    }
    for (const [op, summary] of Object.entries(stats.latency)) {
      result.observe(commands, summary.count, { ...base, 'db.operation.name': op });
      for (const [quantile, field] of QUANTILES) {
        result.observe(durations, summary[field] / 1e6, { ...base, 'db.operation.name': op, quantile });
      }
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return {
    instruments: observables,
    stop() {
      meter.removeBatchObservableCallback(callback, observables);
      target = null;
    },
  };
}

module.exports = { instrument };
