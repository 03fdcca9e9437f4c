'use strict';
// nearcache for Node: the native Cache (src/, napi-rs) plus the parts that
// are JavaScript by nature: reuse of the Buffer built for an L1 entry, scan()
// as an async iterator, getOrLoad's loader adapter, and the JSON helpers.
// Every cache behaviour (coherence, TTLs, single flight) lives in the Rust
// core; this file only decides how a value becomes a Buffer.

const native = require('./nearcache.node');

const { Cache, ScanCursor } = native;
const proto = Cache.prototype;
const nativeProbe = proto._probe;
const nativeGet = proto.get;
const nativeGetOrLoad = proto._getOrLoad;

// --- The hit path ---------------------------------------------------------
//
// Building a Buffer through napi costs 2-5 us, twenty times the native call
// itself. So for each key the first hit builds one Buffer (the "master") and
// remembers the L1 entry version it was built from (core's
// get_local_versioned). Later hits ask core, in one native call, whether L1
// still answers with that same entry: if so the master is still exact (an
// invalidation, eviction, expiry or flush removes the entry, and any refill
// gets a new version) and the caller gets a copy of it made in JavaScript
// (a pooled allocation and a memcpy, ~0.1 us for 1 KiB).
//
// Callers always get a Buffer of their own, never the master: a caller that
// writes into its Buffer cannot change what anyone else reads. Core still
// decides every hit (coherence, TTL, health bound, stats); the masters are
// only a conversion cache, bounded by l1.max_bytes and dropped with the
// cache on close().

const kLocal = Symbol('nearcache.local');

function localState(cache) {
  let state = cache[kLocal];
  if (state === undefined) {
    state = { strings: new Map(), buffers: new Map(), bytes: 0, max: cache._l1MaxBytes() };
    Object.defineProperty(cache, kLocal, { value: state, writable: true });
  }
  return state;
}

function copyOf(master) {
  const out = Buffer.allocUnsafe(master.length);
  master.copy(out, 0, 0, master.length);
  return out;
}

// The L1 answer for `key`: a Buffer of the caller's own, null (L1 knows the
// key is absent) or undefined (L1 cannot answer). Throws like the native
// call (NC_CLOSED, NC_INVALID_ARGUMENT, TypeError).
function lookup(cache, key) {
  const state = localState(cache);
  let map;
  let mapKey;
  if (typeof key === 'string') {
    map = state.strings;
    mapKey = key;
  } else if (key instanceof Uint8Array) {
    map = state.buffers;
    mapKey = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  } else {
    return nativeProbe.call(cache, key, 0); // throws the TypeError
  }
  const known = map.get(mapKey);
  const found = nativeProbe.call(cache, key, known === undefined ? 0 : known.version);
  if (typeof found === 'number') return copyOf(known.master);
  if (found === undefined || found === null) {
    if (known !== undefined) {
      map.delete(mapKey);
      state.bytes -= known.master.length;
    }
    return found;
  }
  const master = found[0];
  if (known !== undefined) {
    state.bytes -= known.master.length;
    known.master = master;
    known.version = found[1];
  } else {
    map.set(mapKey, { master, version: found[1] });
  }
  state.bytes += master.length;
  if (state.bytes > state.max) {
    // Masters are a conversion cache: dropping them costs one Buffer build
    // per key on its next hit, nothing else.
    state.strings = new Map();
    state.buffers = new Map();
    state.bytes = 0;
  }
  return copyOf(master);
}

function typeError(message) {
  const err = new TypeError(message);
  err.code = 'NC_INVALID_ARGUMENT';
  return err;
}

Object.defineProperties(proto, {
  getLocal: {
    value: function getLocal(key) {
      return lookup(this, key);
    },
    writable: true,
    configurable: true,
  },
  get: {
    value: function get(key) {
      if (typeof key === 'string' || key instanceof Uint8Array) {
        let found;
        try {
          found = lookup(this, key);
        } catch (err) {
          return Promise.reject(err);
        }
        if (found !== undefined) return Promise.resolve(found);
      }
      return nativeGet.call(this, key);
    },
    writable: true,
    configurable: true,
  },
  getOrLoad: {
    value: function getOrLoad(key, loader, options) {
      if (typeof loader !== 'function') {
        return Promise.reject(typeError(`loader must be a function, got ${typeof loader}`));
      }
      if (options != null && typeof options !== 'object') {
        return Promise.reject(typeError(`options must be an object, got ${typeof options}`));
      }
      if (typeof key === 'string' || key instanceof Uint8Array) {
        let found;
        try {
          found = lookup(this, key);
        } catch (err) {
          return Promise.reject(err);
        }
        if (found) return Promise.resolve(found);
      }
      const load = async () => {
        const value = await loader(key);
        if (typeof value === 'string') return Buffer.from(value, 'utf8');
        if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        throw typeError(`the loader must resolve to a string or Buffer, got ${value === null ? 'null' : typeof value}`);
      };
      return nativeGetOrLoad.call(this, key, load, options == null ? undefined : options.ttl);
    },
    writable: true,
    configurable: true,
  },
  scan: {
    value: async function* scan(pattern) {
      const cursor = this._scanner(pattern);
      for (;;) {
        const batch = await cursor.nextBatch();
        if (batch === null) return;
        yield* batch;
      }
    },
    writable: true,
    configurable: true,
  },
  getJson: {
    value: async function getJson(key) {
      const value = await this.get(key);
      return value === null ? null : JSON.parse(value.toString('utf8'));
    },
    writable: true,
    configurable: true,
  },
  setJson: {
    value: function setJson(key, value, options) {
      const text = JSON.stringify(value);
      if (text === undefined) {
        return Promise.reject(typeError(`setJson: ${typeof value} has no JSON form`));
      }
      return this.set(key, text, options);
    },
    writable: true,
    configurable: true,
  },
});

const nativeClose = proto.close;
proto.close = function close() {
  nativeClose.call(this);
  if (this[kLocal] !== undefined) this[kLocal] = undefined;
};

module.exports = { Cache, ScanCursor };
