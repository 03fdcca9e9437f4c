/* Types of `nearcache/otel` (otel.js): OpenTelemetry instruments over cache.stats(). */
import type { Attributes, MeterProvider, Observable } from '@opentelemetry/api'
import type { Cache } from './index'

export interface InstrumentOptions {
  /** Where the meter `nearcache` comes from; the global provider by default. */
  meterProvider?: MeterProvider
  /** Added to every observation, e.g. `{ 'nearcache.cache.name': 'sessions' }`. */
  attributes?: Attributes
}

export interface Instrumentation {
  readonly instruments: Observable[]
  /** Removes the callback and drops the reference to the cache. */
  stop(): void
}

/** Publishes `cache.stats()` as observable instruments (see the README's OpenTelemetry table). */
export declare function instrument(cache: Cache, options?: InstrumentOptions): Instrumentation
