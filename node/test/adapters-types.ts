// Compiled with `tsc --noEmit` (npm run typecheck): checks keyv.d.ts and
// otel.d.ts against typical use, through package.json "exports". Never run.
import { Keyv } from 'keyv'
import { createCache } from 'cache-manager'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { Cache } from 'nearcache'
import { KeyvNearcache } from 'nearcache/keyv'
import { instrument, type Instrumentation } from 'nearcache/otel'

async function main(): Promise<void> {
  const cache = new Cache({ url: 'redis://127.0.0.1:6399' })
  const store = new KeyvNearcache(cache)
  const fromUrl = new KeyvNearcache('redis://127.0.0.1:6399', { noNamespaceAffectsAll: true })
  const keyv = new Keyv({ store, namespace: 'app' })
  const manager = createCache({ stores: [keyv] })
  await manager.set('k', { a: 1 }, 1000)
  const value: string | undefined = await store.get('k')
  const values: Array<string | undefined> = await store.getMany(['a', 'b'])
  const done: boolean[] = await store.setMany([{ key: 'a', value: 'x', ttl: 1000 }])
  for await (const [key, text] of store.iterator('app')) void [key.length, text.length]
  await fromUrl.disconnect()
  // @ts-expect-error: a store takes a Cache, its options or a URL
  void new KeyvNearcache(42)

  const metrics: Instrumentation = instrument(cache, {
    meterProvider: new MeterProvider(),
    attributes: { 'nearcache.cache.name': 'main' },
  })
  metrics.stop()
  // @ts-expect-error: the cache comes first
  instrument({ meterProvider: new MeterProvider() })
  void cache.close()
  void [value, values, done]
}

void main
