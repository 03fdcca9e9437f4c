// Compiled with `tsc --noEmit` (npm run typecheck): checks index.d.ts
// against typical use. Never run.
import { Cache, codes, localCopies, type ErrorCode, type Key, type Reply, type Stats, type Ttl } from '..'

async function main(): Promise<void> {
  const cache = new Cache({ url: 'redis://127.0.0.1:6399', l1: { max_bytes: '64MiB' } })
  const fromFile: Cache = Cache.fromConfig('nearcache.toml')
  const ok: boolean = await cache.set('k', 'v', { ttl: 1000, nx: true })
  const value: Buffer | null = await cache.get(Buffer.from('k'))
  const local: Buffer | null | undefined = cache.getLocal('k')
  const n: number | null | undefined = cache.getLocalInto('k', new Uint8Array(64))
  const many: Array<Buffer | null> = await cache.getMany(['a', 'b'])
  await cache.setMany([['a', '1'], ['b', Buffer.from('2')]], { ttl: '30s' })
  await cache.setMany({ a: '1' })
  const deleted: number = await cache.delete(['a', 'b'])
  const exists: boolean = await cache.expire('k', '5s')
  const ttl: number | null = await cache.ttl('k')
  const field: Buffer | null = await cache.hget('h', 'f')
  const fields: Array<Buffer | null> = await cache.hmget('h', ['f', 'g'])
  const all: Record<string, Buffer> = await cache.hgetall('h')
  const added: number = await cache.hset('h', { f: 'v' })
  const removed: number = await cache.hdel('h', 'f')
  const loaded: Buffer = await cache.getOrLoad('x', async (key) => `computed for ${String(key)}`, { ttl: 60_000 })
  const json = await cache.getJson<{ name: string }>('user')
  const name: string | undefined = json?.name
  await cache.setJson('user', { name: 'Ada' })
  cache.invalidateLocal()
  cache.invalidateLocal(['a', Buffer.from('b')])
  for await (const key of cache.scan('user:*')) {
    const k: Buffer = key
    void k
  }
  const swept: number = await cache.deletePrefix('tmp:')
  const reply: Reply = await cache.command(['INCRBY', 'n', 5])
  const stats: Stats = cache.stats()
  const hits: number = stats.l1_hits
  const text: string = cache.statsPrometheus()
  const config: string = cache.configJson()
  try {
    await cache.get('k')
  } catch (e) {
    const code = (e as Error & { code: ErrorCode }).code
    void code
  }
  const key: Key = Buffer.from('k')
  const ttlMs: Ttl = 1500
  await cache.expire(key, ttlMs)
  await cache.set(key, 'v', null)
  const none: null | Buffer = await cache.hget(key, 'f')
  const invalid: ErrorCode | undefined = codes.InvalidArgument
  const revisit: number = localCopies.revisitMs
  // @ts-expect-error: a key is a string or a Buffer
  void cache.get(42)
  // @ts-expect-error: a TTL is milliseconds or a duration string
  void cache.expire('k', true)
  // @ts-expect-error: the kept-copy rules are read-only
  localCopies.revisitMs = 5
  void [none, invalid, revisit]
  const closing: Promise<void> = cache.close()
  const disposing: Promise<void> = cache[Symbol.asyncDispose]()
  await Promise.all([closing, disposing])
  const closed: boolean = cache.closed
  void [fromFile, ok, value, local, n, many, deleted, exists, ttl, field, fields, all, added, removed]
  void [loaded, name, swept, reply, hits, text, config, closed]
}

void main
