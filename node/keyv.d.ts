/* Types of `nearcache/keyv` (keyv.js): a Keyv storage adapter over a nearcache Cache. */
import { EventEmitter } from 'node:events'
import { Cache, CacheOptions } from './index'

export interface KeyvNearcacheOptions {
  /** clear() without a namespace runs FLUSHDB instead of deleting only the keys without a `:`. */
  noNamespaceAffectsAll?: boolean
}

/** `new Keyv({ store: new KeyvNearcache(cache) })`: values are Keyv's serialized strings. */
export declare class KeyvNearcache extends EventEmitter {
  /** A Cache (kept open by disconnect()), Cache options, or a Redis URL. */
  constructor(cache?: Cache | CacheOptions | string, options?: KeyvNearcacheOptions)
  readonly cache: Cache
  readonly ownsCache: boolean
  noNamespaceAffectsAll: boolean
  namespace: string | undefined
  opts: { dialect: 'redis'; url: string; [option: string]: unknown }
  get(key: string): Promise<string | undefined>
  getMany(keys: string[]): Promise<Array<string | undefined>>
  set(key: string, value: string | Buffer, ttl?: number): Promise<boolean>
  setMany(entries: Array<{ key: string; value: string | Buffer; ttl?: number }>): Promise<boolean[]>
  delete(key: string): Promise<boolean>
  deleteMany(keys: string[]): Promise<boolean>
  has(key: string): Promise<boolean>
  hasMany(keys: string[]): Promise<boolean[]>
  clear(): Promise<void>
  iterator(namespace?: string): AsyncGenerator<[string, string], void>
  disconnect(): Promise<void>
}

export default KeyvNearcache
