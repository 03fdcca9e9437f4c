'use strict';
// nearcache for Node: the native Cache (src/, napi-rs) plus the parts that
// are JavaScript by nature: reuse of the Buffer built for an L1 entry, one
// native call per event-loop turn for misses, scan() as an async iterator,
// getOrLoad's loader adapter, and the JSON helpers. Every cache decision
// (coherence, TTLs, the health bound, single flight) is core's; the one
// exception, the kept copies, states its rules in one place below ("Kept
// copies"): a kept Buffer is served only while core's change words and
// deadline vouch for it.

const native = require('./native.js');
// A module binding: Node's global `Buffer` is a getter on globalThis (Node
// 20), a call on every use; the hit path below uses it on every hit.
const { Buffer } = require('node:buffer');

const { Cache, ScanCursor, codes, version } = native;
const proto = Cache.prototype;
const nativeGet = proto.get;
const nativeGetLocalInto = proto.getLocalInto;
const nativeHgetInto = proto._hgetInto;
const nativeGetBatch = proto._getBatch;
const nativeGetOrLoad = proto._getOrLoad;
const nativeStats = proto.stats;
const nativeStatsPrometheus = proto.statsPrometheus;

// --- Kept copies: the binding's one deliberate exception ----------------------
//
// Everything a cache decides is core's, except this: index.js keeps, per
// key, the Buffer it built for an L1 entry (the "master") and answers
// repeat hits from it without calling core. It exists because of napi's
// costs, not because of any cache rule: building a Buffer through napi
// costs 2-5 us and even an empty native call several hundred ns, against a
// few tens for a Map lookup. It is a conversion cache over core's L1, and
// these are all of its rules (the numbers are `localCopies`, exported so
// that the tests read the same ones; test/cache.test.js checks each rule):
//
// 1. Never stale beyond core. A copy is kept with what core's
//    get_local_view reported: the entry's version, the change word of its
//    L1 shard and the global change word as they were at the lookup, and
//    how long core's answer holds (entry expiry or health deadline,
//    whichever is first). Core bumps the shard word whenever an entry of
//    the shard is removed, replaced or evicted (invalidations, own writes,
//    evictions) and the global word on a flush or when the health deadline
//    moves back. The words are core's own memory, seen here as an
//    Int32Array, so a hit checks them and the clock without a native call.
//    Anything changed or expired: ask core again (`_view`, which rebuilds
//    the master only when the entry's version changed). close() drops every
//    copy; later lookups go to core, which refuses them (Closed).
// 2. Revisit. A copy goes back to core at least every `revisitMs` even when
//    nothing changed, so that core still sees the key as used: its eviction
//    (CLOCK visited bit) and hot-key sketch only learn of hits it answers,
//    and it counts those hits itself. Hits answered here are added to core's
//    hit counters (`_addLocalHits`) before stats(), statsPrometheus() and
//    close(); they do not feed core's latency samples.
// 3. Bound. The copies are charged key length + `entryOverheadBytes` +
//    value length each (cached absences too, so many missing keys cannot
//    grow the maps) against core's l1.max_bytes; going over drops all of
//    them (a dropped copy costs one Buffer build on its next hit, nothing
//    else). With L1 off there are no copies and get() goes straight to
//    Redis.
// 4. Clock. Date.now() is the cheapest clock here (a V8 builtin;
//    performance.now() goes through a native binding). It is wall-clock
//    time, so lookups keep the latest value seen and a step backwards drops
//    every copy (their deadlines were computed on the old time).
// 5. Own Buffers. Callers always get a Buffer of their own, never the
//    master: a caller that writes into its Buffer cannot change what anyone
//    else reads. The copies are cut from `chunkBytes` chunks, as
//    Buffer.allocUnsafe cuts its own from an 8 KiB pool, but with one chunk
//    per ~60 hits of 1 KiB rather than one per 8 (measured: a hit costs
//    0.6-0.8 of what it costs with Buffer.allocUnsafe); values over
//    `pooledMaxBytes` get a Buffer to themselves. A Buffer kept by a caller
//    keeps its chunk alive, as with Node's pool. Each copy is made with the
//    constructor Node's own Buffers come from (`Buffer[Symbol.species]`,
//    the same class, prototype and methods) rather than through
//    `Buffer.from(arrayBuffer, offset, length)`, whose argument checks cost
//    more than the 1 KiB copy itself (bench/bench.js, "hit path").

const localCopies = Object.freeze({
  revisitMs: 1000,
  entryOverheadBytes: 64,
  chunkBytes: 64 * 1024,
  pooledMaxBytes: 4 * 1024,
});
// The clock of rule 4; tests step it through _setClock. A module binding
// rather than an object property, so the hit path reads it as it read the
// former `const now = Date.now`.
let now = Date.now;
function setClock(fn) {
  now = fn;
}

const kLocal = Symbol('nearcache.local');
const REVISIT_MS = localCopies.revisitMs;
const ENTRY_OVERHEAD = localCopies.entryOverheadBytes;
const CHUNK = localCopies.chunkBytes;
const POOLED_MAX = localCopies.pooledMaxBytes;
let chunk = null;
let chunkUsed = CHUNK;
// The class of Node's Buffers (Buffer.from and Buffer.allocUnsafe construct
// it): a view over `chunk` made with it is what Buffer.from would return.
// Where the runtime offers no such constructor, Buffer.from does the same.
const BufferView = viewConstructor();
function viewConstructor() {
  const species = Buffer[Symbol.species];
  if (typeof species !== 'function' || species === Buffer) return null;
  try {
    const probe = new species(new ArrayBuffer(8), 0, 8);
    return Buffer.isBuffer(probe) && Object.getPrototypeOf(probe) === Buffer.prototype ? species : null;
  } catch {
    return null;
  }
}

function copyOf(master) {
  const out = newCopy(master.length);
  out.set(master);
  return out;
}

// A Buffer of `length` bytes for a caller (rule 5), not yet written.
function newCopy(length) {
  if (length > POOLED_MAX) return Buffer.allocUnsafe(length);
  if (chunkUsed + length > CHUNK) {
    chunk = Buffer.allocUnsafeSlow(CHUNK).buffer;
    chunkUsed = 0;
  }
  const out = BufferView === null ? Buffer.from(chunk, chunkUsed, length) : new BufferView(chunk, chunkUsed, length);
  chunkUsed = (chunkUsed + length + 7) & ~7;
  return out;
}

// Where the native hget copies an L1 hit (up to pooledMaxBytes), for
// hget to cut the caller's Buffer from: one module-wide scratch, as the
// copy is taken out before anything else runs.
const scratch = Buffer.allocUnsafeSlow(POOLED_MAX);

// Whether a copy with this deadline may still be served.
function fresh(state, deadline) {
  const t = now();
  if (t < state.lastNow) {
    // The wall clock stepped back: every deadline computed before is now
    // too far away. Drop the copies; core hands out new ones.
    state.lastNow = t;
    state.strings = new Map();
    state.buffers = new Map();
    state.bytes = 0;
    return false;
  }
  state.lastNow = t;
  return t < deadline;
}

function newState(cache) {
  const buffer = cache._changeWords();
  return {
    strings: new Map(),
    buffers: new Map(),
    bytes: 0,
    max: cache._l1MaxBytes(), // 0: L1 is off
    // null where the runtime refuses external ArrayBuffers: every hit then
    // asks core.
    words: buffer === undefined ? null : new Int32Array(buffer),
    globalWord: buffer === undefined ? 0 : buffer.byteLength / 4 - 1, // core puts it last
    lastNow: now(),
    out: new Float64Array(5),
    hits: 0,
    negativeHits: 0,
    pending: null,
    batches: new Set(), // batches sent, their callers not yet settled
  };
}

function localState(cache) {
  let state = cache[kLocal];
  if (state === undefined) {
    state = newState(cache);
    Object.defineProperty(cache, kLocal, { value: state, writable: true });
  }
  return state;
}

// Hands the hits answered here to core's counters (stats()).
function flushHits(cache) {
  const state = cache[kLocal];
  if (state !== undefined && state !== null && (state.hits !== 0 || state.negativeHits !== 0)) {
    cache._addLocalHits(state.hits, state.negativeHits);
    state.hits = 0;
    state.negativeHits = 0;
  }
}

// The L1 answer for `key`: a Buffer of the caller's own, null (L1 knows the
// key is absent) or undefined (L1 cannot answer). Throws like the native
// call (core's Closed or InvalidArgument code; a TypeError for a wrong type).
function lookup(cache, key) {
  const found = masterOf(cache, key);
  return found === undefined || found === null ? found : copyOf(found);
}

// The same answer, but the kept master itself: never hand it out.
function masterOf(cache, key) {
  let state = cache[kLocal];
  if (state === undefined) state = localState(cache);
  else if (state === null) return cache._view(key, 0, closedOut); // closed: core throws Closed
  let map;
  let mapKey;
  if (typeof key === 'string') {
    map = state.strings;
    mapKey = key;
  } else if (key instanceof Uint8Array) {
    map = state.buffers;
    mapKey = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  } else {
    return cache._view(key, 0, state.out); // throws the TypeError
  }
  const known = map.get(mapKey);
  if (known !== undefined) {
    const words = state.words;
    if (
      words !== null &&
      words[known.word] === known.change &&
      words[state.globalWord] === known.global &&
      fresh(state, known.deadline)
    ) {
      if (known.master === null) {
        state.negativeHits++;
        return null;
      }
      state.hits++;
      return known.master;
    }
    if ((typeof key === 'string' ? state.strings : state.buffers) !== map) {
      // fresh() saw the clock step back and dropped every copy, this one
      // too: core's answer is filed as new, in the new maps.
      return askCore(cache, state, key, typeof key === 'string' ? state.strings : state.buffers, mapKey, undefined);
    }
  }
  return askCore(cache, state, key, map, mapKey, known);
}

// The slow half of masterOf (a function of its own, so that the hit path
// above stays small enough for V8 to inline): asks core and files its
// answer.
function askCore(cache, state, key, map, mapKey, known) {
  // Read before asking core, so the deadline errs early.
  const asked = now();
  const found = cache._view(key, known === undefined ? 0 : known.version, state.out);
  if (found === undefined) {
    if (known !== undefined) {
      map.delete(mapKey);
      state.bytes -= weight(mapKey, known.master);
    }
    return undefined;
  }
  const out = state.out;
  if (found === true) {
    // Same entry: the master is still exact; take the new words and deadline.
    known.word = out[1];
    known.change = out[2];
    known.global = out[3];
    known.deadline = asked + Math.min(out[4], REVISIT_MS);
    return known.master;
  }
  const entry = {
    master: found,
    version: out[0],
    word: out[1],
    change: out[2],
    global: out[3],
    deadline: asked + Math.min(out[4], REVISIT_MS),
  };
  if (known !== undefined) state.bytes -= weight(mapKey, known.master);
  state.bytes += weight(mapKey, found);
  if (state.bytes > state.max) {
    // Masters are a conversion cache: dropping them costs one Buffer build
    // per key on its next hit, nothing else.
    state.strings = new Map();
    state.buffers = new Map();
    state.bytes = weight(mapKey, found);
    map = typeof key === 'string' ? state.strings : state.buffers;
  }
  map.set(mapKey, entry);
  return found;
}

// What an entry is charged against l1.max_bytes (rule 3).
function weight(mapKey, master) {
  return mapKey.length + ENTRY_OVERHEAD + (master === null ? 0 : master.length);
}
const closedOut = new Float64Array(5);

// --- Misses: one native call per event-loop turn ---------------------------
//
// Every get() that L1 cannot answer in one turn of the event loop (the
// synchronous code and the microtasks it queues) joins one batch, sent in
// one native call and settled by one wake-up of this thread; each key is
// still its own GET in core (single flight, fill guard, its own error).
// This is what ioredis's auto-pipelining does on the JavaScript side, and it
// replaces a native call, a core task and a Promise settlement per key.

function sendBatch(cache, state) {
  const batch = state.pending;
  if (batch === null) return; // close() sent it already
  state.pending = null;
  let done;
  try {
    done = nativeGetBatch.call(cache, batch.keys);
  } catch (err) {
    done = Promise.reject(err);
  }
  const settling = done.then(
    (settled) => {
      const { resolves, rejects } = batch;
      const n = resolves.length;
      const [blob, errors] = settled;
      // Per key: an i32 length, -1 for a missing key, -2 - i for errors[i];
      // then the values back to back (see src/cache.rs, _getBatch). Each
      // caller gets its own slice of the blob: disjoint, so writing into
      // one changes no other.
      const tags = new Int32Array(blob.buffer, blob.byteOffset, n);
      let offset = blob.byteOffset + ((n * 4 + 7) & ~7);
      for (let i = 0; i < n; i++) {
        const tag = tags[i];
        if (tag >= 0) {
          resolves[i](BufferView === null ? Buffer.from(blob.buffer, offset, tag) : new BufferView(blob.buffer, offset, tag));
          offset += tag;
        } else if (tag === -1) {
          resolves[i](null);
        } else {
          rejects[i](errors[-2 - tag]);
        }
      }
    },
    (err) => {
      for (const reject of batch.rejects) reject(err);
    },
  ).catch((err) => {
    // A bug in the above must not become an unhandled rejection (a crash):
    // callers not yet settled get it instead.
    for (const reject of batch.rejects) reject(err);
  });
  // close() waits for this batch's callers to be settled, not only for core.
  state.batches.add(settling);
  settling.then(() => state.batches.delete(settling));
}

function getFromRedis(cache, key) {
  const state = cache[kLocal];
  let batch = state.pending;
  if (batch === null) {
    batch = { keys: [], resolves: [], rejects: [] };
    state.pending = batch;
    queueMicrotask(() => sendBatch(cache, state));
  }
  return new Promise((resolve, reject) => {
    batch.keys.push(key);
    batch.resolves.push(resolve);
    batch.rejects.push(reject);
  });
}

// A wrong argument type, as the native methods report one: a TypeError with
// core's InvalidArgument code.
function typeError(message) {
  const err = new TypeError(message);
  err.code = codes.InvalidArgument;
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
  getLocalInto: {
    value: function getLocalInto(key, target) {
      if (!(target instanceof Uint8Array)) return nativeGetLocalInto.call(this, key, target); // throws the TypeError
      const found = masterOf(this, key);
      if (found === undefined || found === null) return found;
      if (found.length <= target.length) target.set(found);
      return found.length;
    },
    writable: true,
    configurable: true,
  },
  get: {
    value: function get(key) {
      if (typeof key === 'string' || key instanceof Uint8Array) {
        const state = this[kLocal];
        // Without L1 there is nothing to look up: straight to Redis (core
        // still checks the key there).
        if (state !== undefined && state !== null && state.max === 0) return getFromRedis(this, key);
        let found;
        try {
          found = lookup(this, key);
        } catch (err) {
          return Promise.reject(err);
        }
        if (found !== undefined) return Promise.resolve(found);
        return getFromRedis(this, key);
      }
      return nativeGet.call(this, key); // rejects with the TypeError
    },
    writable: true,
    configurable: true,
  },
  hget: {
    // An L1 hit settles at once, its Buffer cut like getLocal's (rule 5);
    // everything else is the native hget's Promise (see src/cache.rs,
    // _hgetInto).
    value: function hget(key, field) {
      const found = nativeHgetInto.call(this, key, field, scratch);
      if (typeof found === 'number') {
        const out = newCopy(found);
        scratch.copy(out, 0, 0, found);
        return Promise.resolve(out);
      }
      return found instanceof Promise ? found : Promise.resolve(found); // a long value's Buffer, or null
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
      return nativeGetOrLoad.call(this, key, load, options);
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

Object.defineProperties(proto, {
  stats: {
    value: function stats() {
      flushHits(this);
      return nativeStats.call(this);
    },
    writable: true,
    configurable: true,
  },
  statsPrometheus: {
    value: function statsPrometheus() {
      flushHits(this);
      return nativeStatsPrometheus.call(this);
    },
    writable: true,
    configurable: true,
  },
});

const nativeClose = proto.close;
// Returns a Promise that resolves once the calls in flight are done and the
// cache is closed (core's close_when_idle); new calls are refused at once.
proto.close = function close() {
  flushHits(this);
  const state = this[kLocal];
  let batches = [];
  if (state !== undefined && state !== null) {
    // get() calls made before close() are in flight too: send their batch
    // now rather than in the microtask, where it would be refused.
    sendBatch(this, state);
    batches = [...state.batches];
  }
  // null: closing; lookups go to core, which still answers L1 hits until
  // the close completes, then refuses them (Closed).
  Object.defineProperty(this, kLocal, { value: null, writable: true });
  const closing = nativeClose.call(this);
  // Core's close waits for core's calls; these settle each caller after.
  return batches.length === 0 ? closing : closing.then(() => Promise.allSettled(batches)).then(() => undefined);
};
// `await using cache = new Cache(...)` (explicit resource management) where
// the runtime defines the symbols: Node 20 and 22 define Symbol.asyncDispose
// and Symbol.dispose for their own classes, older ones do not.
if (typeof Symbol.asyncDispose === 'symbol') {
  Object.defineProperty(proto, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.close();
    },
    writable: true,
    configurable: true,
  });
}
if (typeof Symbol.dispose === 'symbol') {
  // A synchronous dispose cannot wait: it starts the close (new calls are
  // refused at once) and lets the calls in flight finish on their own.
  Object.defineProperty(proto, Symbol.dispose, {
    value: function dispose() {
      this.close().catch(() => {});
    },
    writable: true,
    configurable: true,
  });
}

// --- ioredis shapes over the native typed helpers, pipelines, transactions ---
//
// Conversion only: rest arguments gathered into the array the native method
// takes, and ioredis's chainable pipeline methods queuing raw commands.
// Every rule is core's.
const { Pipeline, Transaction, Script } = native;
const rest = (args) => (args.length === 1 && Array.isArray(args[0]) ? args[0] : args);
for (const name of ['sadd', 'srem', 'zrem', 'lpush', 'rpush', 'smismember', 'zmscore']) {
  const nativeFn = proto[name];
  proto[name] = function (key, ...members) {
    return nativeFn.call(this, key, rest(members));
  };
}
const nativeZadd = proto.zadd;
proto.zadd = function zadd(key, ...pairs) {
  return nativeZadd.call(this, key, rest(pairs));
};
const nativeHmget = proto.hmget;
proto.hmget = function hmget(key, ...fields) {
  return nativeHmget.call(this, key, rest(fields));
};
const kScripts = Symbol('nearcache.scripts');
// ioredis's argument flattening: arrays are spread, and a plain object
// (`hset(key, { f: 'v' })`, `mset({ k: 'v' })`) becomes its key, value pairs.
const isPlainObject = (a) => a !== null && typeof a === 'object' && !Buffer.isBuffer(a) && !ArrayBuffer.isView(a);
const flat = (args) =>
  args.flatMap((a) => (Array.isArray(a) ? a : a instanceof Map ? [...a].flat() : isPlainObject(a) ? Object.entries(a).flat() : [a]));
// Redis commands a pipeline offers as methods (ioredis's names); `call`
// queues any other.
const PIPELINE_COMMANDS = (
  'get set del exists expire pexpire persist ttl pttl incr incrby decr decrby strlen type getbit bitcount ' +
  'mget mset hget hmget hgetall hset hdel hexists hlen hkeys hvals hincrby sadd srem smembers sismember ' +
  'smismember scard zadd zrem zscore zmscore zrange zrank zrevrank zcard zcount zincrby lpush rpush lpop ' +
  'rpop lrange lindex llen ltrim'
).split(' ');
for (const name of PIPELINE_COMMANDS) {
  Pipeline.prototype[name] = function (...args) {
    this._cmd([name.toUpperCase(), ...flat(args)]);
    return this;
  };
}
Pipeline.prototype.call = function call(...args) {
  this._cmd(flat(args));
  return this;
};
Pipeline.prototype.evalScript = function evalScript(script, keys, args) {
  this._script(script, keys || [], args || []);
  return this;
};
Transaction.prototype.evalScript = function evalScript(script, keys, args) {
  this._queueScript(script, keys || [], args || []);
  return this;
};
function withScripts(cache, target, queue) {
  const scripts = cache[kScripts];
  if (scripts === undefined) return target;
  for (const [name, { script, numberOfKeys }] of scripts) {
    target[name] = function (...args) {
      const all = flat(args);
      queue.call(this, script, all.slice(0, numberOfKeys), all.slice(numberOfKeys));
      return this;
    };
  }
  return target;
}
// pipeline() and multi(): a native pipeline with the defined scripts'
// methods, `commands` (ioredis's array form) queued first.
function newPipeline(cache, transaction, commands) {
  const p = withScripts(cache, cache._pipeline(transaction), Pipeline.prototype.evalScript);
  for (const command of commands || []) p.call(command);
  return p;
}
Object.defineProperties(proto, {
  pipeline: {
    value: function pipeline(commands) {
      return newPipeline(this, false, commands);
    },
    writable: true,
    configurable: true,
  },
  multi: {
    value: function multi(commands) {
      return newPipeline(this, true, commands);
    },
    writable: true,
    configurable: true,
  },
  // Optimistic check-and-set: `fn(tx)` reads with tx.command(), calls
  // tx.multi() and queues with tx.queue(); EXEC aborted by a watched key
  // runs fn again as core's TransactionRetries decides, then rejects with
  // NC_TRANSACTION_ABORTED. Resolves the EXEC results ([[err, reply], ...]).
  transaction: {
    value: async function transaction(fn, ...keys) {
      if (typeof fn !== 'function') throw typeError(`transaction: fn must be a function, got ${typeof fn}`);
      const retries = this._transactionRetries();
      for (;;) {
        const tx = await this.watch(flat(keys));
        try {
          await fn(tx);
        } catch (err) {
          // fn's error is the one to report, whatever the reset says.
          await tx.reset().catch(() => {});
          throw err;
        }
        const out = await tx._execOrRetry(retries);
        if (Array.isArray(out)) return out;
        if (out > 0) await new Promise((resolve) => setTimeout(resolve, out));
      }
    },
    writable: true,
    configurable: true,
  },
  // ioredis's defineCommand: cache[name](...keys, ...args) runs the script;
  // pipelines made afterwards get the same method.
  defineCommand: {
    value: function defineCommand(name, { numberOfKeys, lua } = {}) {
      if (typeof name !== 'string' || name === '') throw typeError('defineCommand: name must be a non-empty string');
      // A name the cache or a pipeline already has (get, exec, ...) would
      // replace that method; a command defined before may be redefined.
      const defined = this[kScripts] !== undefined && this[kScripts].has(name);
      if (!defined && (name in this || name in Pipeline.prototype)) {
        throw typeError(`defineCommand: ${name} is already a method of the cache or its pipelines`);
      }
      if (!Number.isInteger(numberOfKeys) || numberOfKeys < 0) {
        throw typeError('defineCommand: numberOfKeys must be a non-negative integer');
      }
      const script = this.registerScript(lua);
      if (this[kScripts] === undefined) Object.defineProperty(this, kScripts, { value: new Map() });
      this[kScripts].set(name, { script, numberOfKeys });
      Object.defineProperty(this, name, {
        value: (...args) => {
          const all = flat(args);
          return script.call(all.slice(0, numberOfKeys), all.slice(numberOfKeys));
        },
        writable: true,
        configurable: true,
      });
    },
    writable: true,
    configurable: true,
  },
});

module.exports = { Cache, ScanCursor, Pipeline, Transaction, Script, codes, version, localCopies, _setClock: setClock };
// The panic hook of test builds (`make node-test`), for the conformance
// runner and test/cache.test.js; absent from release builds.
if (typeof native._panicForTests === 'function') module.exports._panicForTests = native._panicForTests;
