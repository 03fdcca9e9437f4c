'use strict';
// A Keyv storage adapter over nearcache: `new Keyv({ store: new
// KeyvNearcache(cache) })`, and through Keyv, cache-manager. Sugar over the
// public Cache API: reads go through L1, writes and deletes invalidate every
// process's copy; every cache decision is core's.
//
// Keyv hands the store serialized strings (its own JSON with `expires`) and
// prefixes keys with `namespace:`; values are stored as UTF-8 and read back
// as strings. Keyv itself is not required here: the adapter is plain
// methods with the shape Keyv's KeyvStoreAdapter asks for.

const { EventEmitter } = require('node:events');
const { Cache } = require('./index.js');

const SCAN_BATCH = 100;

// A Redis glob that matches `text` literally.
function globEscape(text) {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function text(value) {
  return value === null ? undefined : value.toString('utf8');
}

function ttlOptions(ttl) {
  return typeof ttl === 'number' && ttl > 0 ? { ttl } : undefined;
}

class KeyvNearcache extends EventEmitter {
  /**
   * `cache`: a nearcache Cache (shared, not closed by disconnect()), or what
   * `new Cache(...)` takes (an options object; a URL string is a shortcut
   * for `{ url }`; nothing reads the environment). `options.noNamespaceAffectsAll`:
   * whether clear() without a namespace flushes the whole database (FLUSHDB)
   * rather than only the keys without a `:` (as @keyv/redis does).
   */
  constructor(cache, options = {}) {
    super();
    if (cache instanceof Cache) {
      this.cache = cache;
      this.ownsCache = false;
    } else {
      this.cache = new Cache(typeof cache === 'string' ? { url: cache } : cache);
      this.ownsCache = true;
    }
    this.noNamespaceAffectsAll = options.noNamespaceAffectsAll === true;
    // Set by Keyv (it writes `store.namespace`).
    this.namespace = undefined;
    // Keyv builds its iterator() only for stores whose opts name one of the
    // dialects it knows; this is a Redis store. The URL is core's redacted form.
    this.opts = { dialect: 'redis', url: JSON.parse(this.cache.configJson()).redis.url };
  }

  async get(key) {
    return text(await this.cache.get(key));
  }

  async getMany(keys) {
    if (keys.length === 0) return [];
    return (await this.cache.getMany(keys)).map(text);
  }

  async set(key, value, ttl) {
    await this.cache.set(key, value, ttlOptions(ttl));
    return true;
  }

  async setMany(entries) {
    // One MSET (or MULTI/EXEC with a TTL) per distinct TTL.
    const byTtl = new Map();
    for (const { key, value, ttl } of entries) {
      const ms = typeof ttl === 'number' && ttl > 0 ? ttl : 0;
      if (!byTtl.has(ms)) byTtl.set(ms, []);
      byTtl.get(ms).push([key, value]);
    }
    await Promise.all([...byTtl].map(([ms, group]) => this.cache.setMany(group, ttlOptions(ms))));
    return entries.map(() => true);
  }

  async delete(key) {
    return (await this.cache.delete(key)) > 0;
  }

  async deleteMany(keys) {
    if (keys.length === 0) return false;
    return (await this.cache.delete(keys)) > 0;
  }

  async has(key) {
    return (await this.cache.get(key)) !== null;
  }

  async hasMany(keys) {
    if (keys.length === 0) return [];
    return (await this.cache.getMany(keys)).map((value) => value !== null);
  }

  async clear() {
    if (this.namespace) {
      await this.cache.deletePrefix(`${this.namespace}:`);
      return;
    }
    if (this.noNamespaceAffectsAll) {
      await this.cache.command(['FLUSHDB']);
      return;
    }
    // Without a namespace, only keys outside every namespace (no `:`).
    let batch = [];
    for await (const key of this.cache.scan('*')) {
      if (!key.includes(':')) batch.push(key);
      if (batch.length >= SCAN_BATCH) {
        await this.cache.delete(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.cache.delete(batch);
  }

  // [key, serialized value] for every key of `namespace` (all keys without
  // one). SCAN may return a key twice; each is yielded once.
  async *iterator(namespace) {
    const pattern = namespace ? `${globEscape(namespace)}:*` : '*';
    const seen = new Set();
    let batch = [];
    for await (const raw of this.cache.scan(pattern)) {
      const key = raw.toString('utf8');
      if (seen.has(key)) continue;
      seen.add(key);
      batch.push(key);
      if (batch.length >= SCAN_BATCH) {
        yield* this._entries(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield* this._entries(batch);
  }

  async *_entries(keys) {
    const values = await this.cache.getMany(keys);
    for (let i = 0; i < keys.length; i++) {
      if (values[i] !== null) yield [keys[i], values[i].toString('utf8')];
    }
  }

  /** Closes the cache if this store opened it; a cache passed in stays open. */
  async disconnect() {
    if (this.ownsCache) await this.cache.close();
  }
}

module.exports = { KeyvNearcache, default: KeyvNearcache };
