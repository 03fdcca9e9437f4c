/*
 * The conformance scenarios through the C binding. Translation only: the
 * steps and every expected value come from the JSON files in
 * tests/conformance/scenarios/,
 * turned into a line format by scenarios_to_text.py (see its docstring).
 *
 *   runner URL SCENARIOS.txt CONFIGS_DIR WORKDIR
 *
 * Runs every scenario against the redis-server at URL (flushed before each
 * one), then checks every config file of CONFIGS_DIR against its .expected
 * file. Prints one line per scenario and config; exits 1 if any failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <nearcache.h>

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TOKENS 4096
#define MAX_CACHES 8

/* The test-only export of libnearcache's `test-hooks` feature (run.sh
 * installs the library with it); not in nearcache.h. The `panic` op calls
 * it: without the hook the runner does not link, so the step cannot be
 * skipped by accident. */
nc_status nc_test_panic(const char *message);

static const char *url;
static const char *workdir;
static char failure[4096];

typedef struct {
  char *name[MAX_TOKENS];
  char *value[MAX_TOKENS];
  size_t n;
} step;

typedef struct {
  uint8_t *data;
  size_t len;
  int null; /* "n" */
} bytes;

static struct {
  char name[64];
  nc_cache *cache;
} caches[MAX_CACHES];

static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(failure, sizeof failure, fmt, ap);
  va_end(ap);
  return 1;
}

/* Splits "step a=b c=d" in place. */
static void parse(char *line, step *s) {
  s->n = 0;
  char *save = NULL;
  strtok_r(line, " \n", &save); /* "step" */
  for (char *tok = strtok_r(NULL, " \n", &save); tok && s->n < MAX_TOKENS; tok = strtok_r(NULL, " \n", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = '\0';
    s->name[s->n] = tok;
    s->value[s->n] = eq + 1;
    s->n++;
  }
}

static const char *get(const step *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->name[i], name) == 0) return s->value[i];
  return NULL;
}

static const char *getf(const step *s, const char *fmt, ...) {
  char name[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  return get(s, name);
}

static long long num(const step *s, const char *name, long long dflt) {
  const char *v = get(s, name);
  return v ? strtoll(v, NULL, 10) : dflt;
}

/* A number: "d<strtod text>" or a decimal integer. */
static double dbl(const char *v) { return v && v[0] == 'd' ? strtod(v + 1, NULL) : v ? (double)strtoll(v, NULL, 10) : 0; }

static size_t list_len(const step *s, const char *name) {
  const char *v = get(s, name);
  return v && v[0] == '#' ? (size_t)strtoul(v + 1, NULL, 10) : 0;
}

/* "x<hex>" -> bytes (caller frees .data); "n" -> null. */
static bytes decode(const char *v) {
  bytes b = {NULL, 0, 0};
  if (!v || strcmp(v, "n") == 0) {
    b.null = 1;
    return b;
  }
  size_t hex = strlen(v + 1);
  b.len = hex / 2;
  b.data = malloc(b.len + 1);
  for (size_t i = 0; i < b.len; i++) {
    unsigned byte = 0;
    sscanf(v + 1 + 2 * i, "%2x", &byte);
    b.data[i] = (uint8_t)byte;
  }
  return b;
}

static int same(const uint8_t *data, size_t len, int null, const char *expected) {
  bytes e = decode(expected);
  int ok = e.null ? null : (!null && e.len == len && (len == 0 || memcmp(e.data, data, len) == 0));
  free(e.data);
  return ok;
}

static int value_is(const nc_value *v, const char *expected) {
  return same(nc_value_data(v), nc_value_len(v), v == NULL, expected);
}

/* A list of byte strings: name.0 .. name.N-1. */
typedef struct {
  size_t n;
  bytes *items;
  const uint8_t **ptrs;
  size_t *lens;
} blist;

static blist decode_list(const step *s, const char *fmt, const char *name) {
  blist l;
  l.n = list_len(s, name);
  l.items = calloc(l.n + 1, sizeof(bytes));
  l.ptrs = calloc(l.n + 1, sizeof(uint8_t *));
  l.lens = calloc(l.n + 1, sizeof(size_t));
  for (size_t i = 0; i < l.n; i++) {
    l.items[i] = decode(getf(s, fmt, name, i));
    l.ptrs[i] = l.items[i].data;
    l.lens[i] = l.items[i].len;
  }
  return l;
}

static void free_list(blist *l) {
  for (size_t i = 0; i < l->n; i++) free(l->items[i].data);
  free(l->items);
  free(l->ptrs);
  free(l->lens);
}

static nc_cache **cache_slot(const char *name, int create) {
  for (int i = 0; i < MAX_CACHES; i++)
    if (caches[i].cache && strcmp(caches[i].name, name) == 0) return &caches[i].cache;
  if (!create) return NULL;
  for (int i = 0; i < MAX_CACHES; i++)
    if (!caches[i].cache) {
      snprintf(caches[i].name, sizeof caches[i].name, "%s", name);
      return &caches[i].cache;
    }
  return NULL;
}

static void close_all(void) {
  for (int i = 0; i < MAX_CACHES; i++) {
    nc_cache_free(caches[i].cache);
    caches[i].cache = NULL;
  }
}

/* get_or_load's loader: the scenario's value, or a failure. */
typedef struct {
  int called;
  int fail;
  bytes value;
} loader_ctx;

static nc_status loader(void *user_data, const uint8_t *key, size_t key_len, const uint8_t **data, size_t *len) {
  (void)key;
  (void)key_len;
  loader_ctx *ctx = user_data;
  ctx->called = 1;
  if (ctx->fail) return NC_ERR_LOADER;
  *data = ctx->value.data;
  *len = ctx->value.len;
  return NC_OK;
}

static int cmp_bytes(const void *a, const void *b) {
  const bytes *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = n ? memcmp(x->data, y->data, n) : 0;
  return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Compares a reply with expect (and expect.N for arrays). */
static int reply_is(const nc_reply *r, const step *s, const char *name) {
  const char *e = get(s, name);
  nc_reply_type t = nc_reply_get_type(r);
  if (strcmp(e, "n") == 0) return t == NC_REPLY_NIL;
  if (e[0] == '#') {
    size_t n = list_len(s, name);
    if ((t != NC_REPLY_ARRAY && t != NC_REPLY_SET) || nc_reply_len(r) != n) return 0;
    for (size_t i = 0; i < n; i++) {
      char sub[128];
      const nc_reply *el = NULL;
      snprintf(sub, sizeof sub, "%s.%zu", name, i);
      if (nc_reply_element(r, i, &el) != NC_OK || !reply_is(el, s, sub)) return 0;
    }
    return 1;
  }
  if (e[0] == 'x') {
    const uint8_t *data = NULL;
    size_t len = 0;
    if (t != NC_REPLY_STRING && t != NC_REPLY_STATUS) return 0;
    if (nc_reply_string(r, &data, &len) != NC_OK) return 0;
    return same(data, len, 0, e);
  }
  if (t == NC_REPLY_DOUBLE) {
    double d = 0;
    return nc_reply_double(r, &d) == NC_OK && d == dbl(e);
  }
  int64_t i = 0;
  return (t == NC_REPLY_INTEGER || t == NC_REPLY_BOOL) && e[0] != 'd' && nc_reply_integer(r, &i) == NC_OK &&
         i == strtoll(e, NULL, 10);
}

/* An array or set reply whose elements are strings, compared with expect
 * after sorting (the reply's order is the server's, not a promise). */
static int unordered_is(const nc_reply *r, const step *s, const char *name) {
  nc_reply_type t = nc_reply_get_type(r);
  size_t n = nc_reply_len(r);
  if ((t != NC_REPLY_ARRAY && t != NC_REPLY_SET) || n != list_len(s, name)) return 0;
  bytes *items = calloc(n + 1, sizeof(bytes));
  int ok = 1;
  for (size_t i = 0; i < n && ok; i++) {
    const nc_reply *el = NULL;
    ok = nc_reply_element(r, i, &el) == NC_OK &&
         nc_reply_string(el, (const uint8_t **)&items[i].data, &items[i].len) == NC_OK;
  }
  if (ok) qsort(items, n, sizeof(bytes), cmp_bytes);
  for (size_t i = 0; i < n && ok; i++) ok = same(items[i].data, items[i].len, 0, getf(s, "%s.%zu", name, i));
  free(items);
  return ok;
}

/* Checks a status against a step's error fields: `<name>.error` and
 * `<name>.message_contains` for one result of a pipeline. */
static int result_error_is(nc_status st, const char *message, const step *s, const char *name) {
  bytes code = decode(getf(s, "%s.error", name)), part = decode(getf(s, "%s.message_contains", name));
  int ok = strlen(nc_status_code(st)) == code.len && memcmp(nc_status_code(st), code.data, code.len) == 0;
  if (ok && !part.null) {
    part.data[part.len] = '\0';
    ok = strstr(message, (char *)part.data) != NULL;
  }
  free(code.data);
  free(part.data);
  return ok;
}

/* The results of a pipeline or an EXEC against expect.0 .. expect.N-1. */
static int results_are(const nc_replies *rs, const step *s) {
  size_t n = nc_replies_len(rs);
  if (n != list_len(s, "expect")) return fail("expected %zu results, got %zu", list_len(s, "expect"), n);
  for (size_t i = 0; i < n; i++) {
    char name[64];
    const nc_reply *el = NULL;
    snprintf(name, sizeof name, "expect.%zu", i);
    nc_status st = nc_replies_get(rs, i, &el);
    if (getf(s, "%s.error", name)) {
      const uint8_t *msg = NULL;
      size_t len = 0;
      char message[2048] = "";
      if (st != NC_OK && nc_reply_string(el, &msg, &len) == NC_OK)
        snprintf(message, sizeof message, "%.*s", (int)len, (const char *)msg);
      if (st == NC_OK || !result_error_is(st, message, s, name))
        return fail("result %zu: expected an error, got %s %s", i, nc_status_code(st), message);
    } else if (st != NC_OK || !reply_is(el, s, name)) {
      return fail("result %zu differs (%s, type %d)", i, nc_status_code(st), nc_reply_get_type(el));
    }
  }
  return 0;
}

/* Sends the argument lists <name>.0 .. <name>.N-1 through `send` (one
 * call each) until one fails; returns its status. */
static nc_status each_command(const step *s, const char *name, nc_status (*send)(void *, const blist *), void *to) {
  nc_status st = NC_OK;
  for (size_t i = 0; st == NC_OK && i < list_len(s, name); i++) {
    char sub[64];
    snprintf(sub, sizeof sub, "%s.%zu", name, i);
    blist a = decode_list(s, "%s.%zu", sub);
    st = send(to, &a);
    free_list(&a);
  }
  return st;
}

static nc_status to_pipeline(void *p, const blist *a) { return nc_pipeline_add(p, a->n, a->ptrs, a->lens); }
static nc_status to_transaction(void *tx, const blist *a) { return nc_transaction_queue(tx, a->n, a->ptrs, a->lens); }
static nc_status to_cache(void *c, const blist *a) {
  nc_reply *reply = NULL;
  nc_status st = nc_cache_command(c, a->n, a->ptrs, a->lens, &reply);
  nc_reply_free(reply);
  return st;
}

/* A read whose answer is yes (NC_OK) or no (NC_NOT_FOUND), checked against
 * the boolean expect. */
static int flag_is(nc_status st, const step *s) {
  if (st != NC_OK && st != NC_NOT_FOUND) return 0;
  if ((st == NC_OK) != (num(s, "expect", -1) == 1))
    return fail("expected %s, got %s", get(s, "expect"), nc_status_code(st));
  return 0;
}

/* The ops of the cached reads, typed writes, pipelines, transactions and
 * scripts. Returns -1 for an op it does not know; else as run_step, with
 * the call's status in *st. */
static int run_command_step(nc_cache *c, const step *s, const char *op, const bytes *key, nc_status *st) {
  const char *expect = get(s, "expect");
  const char *error = get(s, "error");
  int r = 0;
  uint64_t count = 0;
  int64_t i64 = 0;
  double d = 0;
  nc_reply *reply = NULL;
  bytes field = decode(get(s, "field")), member = decode(get(s, "member"));
  blist members = decode_list(s, "%s.%zu", "members"), values = decode_list(s, "%s.%zu", "values");
#define COUNT_IS(got) \
  if (*st == NC_OK && (long long)(got) != num(s, "expect", -1)) r = fail("expected %s, got %lld", expect, (long long)(got))
#define NUMBER_IS(got) \
  if (*st == NC_OK && (got) != dbl(expect)) r = fail("expected %s, got %g", expect, (double)(got))

  if (strcmp(op, "hexists") == 0) {
    r = flag_is(*st = nc_cache_hexists(c, key->data, key->len, field.data, field.len), s);
  } else if (strcmp(op, "sismember") == 0) {
    r = flag_is(*st = nc_cache_sismember(c, key->data, key->len, member.data, member.len), s);
  } else if (strcmp(op, "exists") == 0) {
    r = flag_is(*st = nc_cache_exists(c, key->data, key->len), s);
  } else if (strcmp(op, "persist") == 0) {
    r = flag_is(*st = nc_cache_persist(c, key->data, key->len), s);
  } else if (strcmp(op, "hlen") == 0 || strcmp(op, "scard") == 0 || strcmp(op, "zcard") == 0 ||
             strcmp(op, "llen") == 0 || strcmp(op, "strlen") == 0) {
    nc_status (*read)(const nc_cache *, const uint8_t *, size_t, uint64_t *) =
        op[0] == 'h' ? nc_cache_hlen : op[0] == 'z' ? nc_cache_zcard : op[0] == 'l' ? nc_cache_llen
        : op[1] == 'c' ? nc_cache_scard : nc_cache_strlen;
    *st = read(c, key->data, key->len, &count);
    COUNT_IS(count);
  } else if (strcmp(op, "zcount") == 0) {
    bytes min = decode(get(s, "min")), max = decode(get(s, "max"));
    min.data[min.len] = max.data[max.len] = '\0';
    *st = nc_cache_zcount(c, key->data, key->len, (char *)min.data, (char *)max.data, &count);
    COUNT_IS(count);
    free(min.data);
    free(max.data);
  } else if (strcmp(op, "zrank") == 0 || strcmp(op, "zrevrank") == 0) {
    *st = (op[2] == 'a' ? nc_cache_zrank : nc_cache_zrevrank)(c, key->data, key->len, member.data, member.len, &count);
    if (*st == NC_NOT_FOUND && strcmp(expect, "n") != 0) r = fail("expected %s, got no rank", expect);
    else if (*st == NC_OK && strcmp(expect, "n") == 0) r = fail("expected no rank, got %llu", (unsigned long long)count);
    else COUNT_IS(count);
  } else if (strcmp(op, "zscore") == 0) {
    *st = nc_cache_zscore(c, key->data, key->len, member.data, member.len, &d);
    if (*st == NC_NOT_FOUND && strcmp(expect, "n") != 0) r = fail("expected %s, got no score", expect);
    else if (*st == NC_OK && strcmp(expect, "n") == 0) r = fail("expected no score, got %g", d);
    else NUMBER_IS(d);
  } else if (strcmp(op, "hkeys") == 0 || strcmp(op, "hvals") == 0 || strcmp(op, "smembers") == 0) {
    *st = (op[0] == 's' ? nc_cache_smembers : op[1] == 'k' ? nc_cache_hkeys : nc_cache_hvals)(c, key->data, key->len,
                                                                                                &reply);
    if (*st == NC_OK && !unordered_is(reply, s, "expect")) r = fail("reply differs from %.80s (sorted)", expect);
  } else if (strcmp(op, "zrange") == 0 || strcmp(op, "lrange") == 0) {
    long long start = num(s, "start", 0), stop = num(s, "stop", 0);
    *st = op[0] == 'z' ? nc_cache_zrange(c, key->data, key->len, start, stop,
                                         num(s, "withscores", 0) ? NC_ZRANGE_WITHSCORES : 0, &reply)
                       : nc_cache_lrange(c, key->data, key->len, start, stop, &reply);
    if (*st == NC_OK && !reply_is(reply, s, "expect")) r = fail("reply differs from %.80s", expect);
  } else if (strcmp(op, "read") == 0 || strcmp(op, "smismember") == 0 || strcmp(op, "zmscore") == 0 ||
             strcmp(op, "type") == 0 || strcmp(op, "getbit") == 0 || strcmp(op, "bitcount") == 0) {
    /* C has no typed helper for these reads: they are nc_cache_read's,
     * NAME KEY [OFFSET | MEMBER...]. */
    blist a = decode_list(s, "%s.%zu", "args");
    const uint8_t *argv[64];
    size_t lens[64], argc = 0;
    char name[16] = "", offset[32];
    for (size_t i = 0; op[i] && i + 1 < sizeof name; i++) name[i] = (char)toupper((unsigned char)op[i]);
    snprintf(offset, sizeof offset, "%lld", num(s, "offset", 0));
#define ARG(p, n) (argv[argc] = (const uint8_t *)(p), lens[argc++] = (n))
    ARG(name, strlen(name));
    ARG(key->data, key->len);
    if (strcmp(op, "getbit") == 0) ARG(offset, strlen(offset));
    for (size_t i = 0; i < members.n && argc < 64; i++) ARG(members.ptrs[i], members.lens[i]);
#undef ARG
    *st = strcmp(op, "read") == 0 ? nc_cache_read(c, a.n, a.ptrs, a.lens, &reply) : nc_cache_read(c, argc, argv, lens, &reply);
    if (*st == NC_OK && !(num(s, "expect_sorted", 0) ? unordered_is(reply, s, "expect") : reply_is(reply, s, "expect")))
      r = fail("reply differs from %.80s (type %d)", expect, nc_reply_get_type(reply));
    free_list(&a);
  } else if (strcmp(op, "incr") == 0 || strcmp(op, "decr") == 0) {
    *st = (op[0] == 'i' ? nc_cache_incr : nc_cache_decr)(c, key->data, key->len, &i64);
    COUNT_IS(i64);
  } else if (strcmp(op, "incrby") == 0 || strcmp(op, "decrby") == 0) {
    *st = (op[0] == 'i' ? nc_cache_incrby : nc_cache_decrby)(c, key->data, key->len, num(s, "by", 0), &i64);
    COUNT_IS(i64);
  } else if (strcmp(op, "hincrby") == 0) {
    *st = nc_cache_hincrby(c, key->data, key->len, field.data, field.len, num(s, "by", 0), &i64);
    COUNT_IS(i64);
  } else if (strcmp(op, "sadd") == 0 || strcmp(op, "srem") == 0 || strcmp(op, "zrem") == 0) {
    *st = (op[0] == 'z' ? nc_cache_zrem : op[1] == 'a' ? nc_cache_sadd : nc_cache_srem)(
        c, key->data, key->len, members.n, members.ptrs, members.lens, &count);
    COUNT_IS(count);
  } else if (strcmp(op, "lpush") == 0 || strcmp(op, "rpush") == 0) {
    *st = (op[0] == 'l' ? nc_cache_lpush : nc_cache_rpush)(c, key->data, key->len, values.n, values.ptrs, values.lens,
                                                           &count);
    COUNT_IS(count);
  } else if (strcmp(op, "zadd") == 0) {
    blist m = decode_list(s, "%s.%zu.0", "members");
    double *scores = calloc(m.n + 1, sizeof(double));
    for (size_t i = 0; i < m.n; i++) scores[i] = dbl(getf(s, "members.%zu.1", i));
    *st = nc_cache_zadd(c, key->data, key->len, m.n, m.ptrs, m.lens, scores, &count);
    COUNT_IS(count);
    free(scores);
    free_list(&m);
  } else if (strcmp(op, "zincrby") == 0) {
    *st = nc_cache_zincrby(c, key->data, key->len, dbl(get(s, "by")), member.data, member.len, &d);
    NUMBER_IS(d);
  } else if (strcmp(op, "ltrim") == 0) {
    *st = nc_cache_ltrim(c, key->data, key->len, num(s, "start", 0), num(s, "stop", 0));
  } else if (strcmp(op, "pipeline") == 0) {
    nc_pipeline *p = NULL;
    nc_replies *rs = NULL;
    *st = nc_pipeline_new(c, num(s, "transaction", 0) != 0, &p);
    if (*st == NC_OK) *st = each_command(s, "commands", to_pipeline, p);
    if (*st == NC_OK) *st = nc_pipeline_execute(p, &rs);
    if (*st == NC_OK && !error) r = results_are(rs, s);
    nc_replies_free(rs);
    nc_pipeline_free(p);
  } else if (strcmp(op, "watch_exec") == 0) {
    /* WATCH, the `between` commands from the cache's shared connection
     * (another client to Redis), MULTI, the queued commands, EXEC. */
    blist w = decode_list(s, "%s.%zu", "watch");
    nc_transaction *tx = NULL;
    nc_replies *rs = NULL;
    *st = nc_transaction_watch(c, w.n, w.ptrs, w.lens, &tx);
    if (*st == NC_OK) *st = each_command(s, "between", to_cache, c);
    if (*st == NC_OK) *st = nc_transaction_multi(tx);
    if (*st == NC_OK) *st = each_command(s, "queue", to_transaction, tx);
    if (*st == NC_OK) *st = nc_transaction_exec(tx, &rs);
    if (*st == NC_OK && !error) r = results_are(rs, s);
    nc_replies_free(rs);
    nc_transaction_free(tx);
    free_list(&w);
  } else if (strcmp(op, "script") == 0) {
    bytes lua = decode(get(s, "lua"));
    blist k = decode_list(s, "%s.%zu", "keys"), a = decode_list(s, "%s.%zu", "args");
    nc_script *script = NULL;
    *st = NC_OK;
    if (num(s, "flush_scripts_first", 0)) {
      const uint8_t *flush[] = {(const uint8_t *)"SCRIPT", (const uint8_t *)"FLUSH"};
      blist f = {2, NULL, flush, (size_t[]){6, 5}};
      *st = to_cache(c, &f);
    }
    if (*st == NC_OK) *st = nc_script_new(c, lua.data, lua.len, &script);
    if (*st == NC_OK) *st = nc_script_call(script, k.n, k.ptrs, k.lens, a.n, a.ptrs, a.lens, &reply);
    if (*st == NC_OK && !error && !reply_is(reply, s, "expect")) r = fail("reply differs from %.80s", expect);
    nc_script_free(script);
    free_list(&k);
    free_list(&a);
    free(lua.data);
  } else {
    r = -1;
  }
#undef COUNT_IS
#undef NUMBER_IS
  nc_reply_free(reply);
  free(field.data);
  free(member.data);
  free_list(&members);
  free_list(&values);
  return r;
}

/* Runs one step; fills `failure` and returns 1 when it does not hold. */
static int run_step(const step *s) {
  const char *op = get(s, "op");
  const char *error = get(s, "error");
  const char *cname = get(s, "cache") ? get(s, "cache") : "a";
  nc_status st = NC_OK;
  int r = 0;
  loader_ctx lctx = {0, 0, {NULL, 0, 0}};

  if (strcmp(op, "open") == 0) {
    const char *name = get(s, "name") ? get(s, "name") : "a";
    bytes cfg = decode(get(s, "config"));
    char path[1024], text[65536];
    snprintf(path, sizeof path, "%s/config.json", workdir);
    /* Fill in the server URL. */
    cfg.data[cfg.len] = '\0';
    char *at = strstr((char *)cfg.data, "@URL@");
    if (at) {
      *at = '\0';
      snprintf(text, sizeof text, "%s%s%s", (char *)cfg.data, url, at + 5);
    } else {
      snprintf(text, sizeof text, "%s", (char *)cfg.data);
    }
    free(cfg.data);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    nc_cache *c = NULL;
    st = nc_cache_open_config(path, &c);
    if (st == NC_OK) {
      nc_cache **slot = cache_slot(name, 1);
      nc_cache_free(*slot);
      *slot = c;
    }
    goto done;
  }
  if (strcmp(op, "panic") == 0) {
    bytes message = decode(get(s, "message"));
    if (message.null) return fail("a panic step needs a message");
    message.data[message.len] = '\0';
    st = nc_test_panic((const char *)message.data);
    free(message.data);
    goto done;
  }

  nc_cache **slot = cache_slot(cname, 0);
  if (!slot) return fail("no open cache named %s", cname);
  nc_cache *c = *slot;
  bytes key = decode(get(s, "key"));
  const char *expect = get(s, "expect");

  if (strcmp(op, "get") == 0 || strcmp(op, "get_local") == 0 || strcmp(op, "hget") == 0 ||
      strcmp(op, "get_or_load") == 0 || strcmp(op, "lindex") == 0 || strcmp(op, "lpop") == 0 ||
      strcmp(op, "rpop") == 0) {
    nc_value *v = NULL;
    if (strcmp(op, "get") == 0) {
      st = nc_cache_get(c, key.data, key.len, &v);
    } else if (strcmp(op, "get_local") == 0) {
      st = nc_cache_get_local(c, key.data, key.len, &v);
    } else if (strcmp(op, "hget") == 0) {
      bytes field = decode(get(s, "field"));
      st = nc_cache_hget(c, key.data, key.len, field.data, field.len, &v);
      free(field.data);
    } else if (strcmp(op, "lindex") == 0) {
      st = nc_cache_lindex(c, key.data, key.len, num(s, "index", 0), &v);
    } else if (strcmp(op, "lpop") == 0 || strcmp(op, "rpop") == 0) {
      st = (op[0] == 'l' ? nc_cache_lpop : nc_cache_rpop)(c, key.data, key.len, &v);
    } else {
      lctx.fail = num(s, "loader.fail", 0) != 0;
      if (!lctx.fail) lctx.value = decode(get(s, "loader"));
      st = nc_cache_get_or_load(c, key.data, key.len, (uint64_t)num(s, "ttl_ms", 0), loader, &lctx, &v);
      free(lctx.value.data);
    }
    if (st < 100 && !error) {
      if (st == NC_NOT_CACHED) {
        if (strcmp(expect, "m") != 0) r = fail("expected %.60s, got an L1 miss", expect);
      } else if (st != NC_OK && st != NC_NOT_FOUND) {
        r = fail("unexpected status %s", nc_status_code(st));
      } else if (!value_is(v, expect)) {
        r = fail("expected %.80s, got %s of %zu bytes", expect, v ? "a value" : "nothing", nc_value_len(v));
      }
    }
    nc_value_free(v);
  } else if (strcmp(op, "get_many") == 0 || strcmp(op, "hmget") == 0) {
    int many = strcmp(op, "get_many") == 0;
    blist l = decode_list(s, "%s.%zu", many ? "keys" : "fields");
    nc_value **out = calloc(l.n + 1, sizeof(nc_value *));
    st = many ? nc_cache_get_many(c, l.n, l.ptrs, l.lens, out)
              : nc_cache_hmget(c, key.data, key.len, l.n, l.ptrs, l.lens, out);
    if (st == NC_OK && list_len(s, "expect") != l.n) r = fail("expected %zu values", list_len(s, "expect"));
    for (size_t i = 0; i < l.n; i++) {
      if (st == NC_OK && !r && !value_is(out[i], getf(s, "expect.%zu", i))) r = fail("value %zu differs", i);
      nc_value_free(out[i]);
    }
    free(out);
    free_list(&l);
  } else if (strcmp(op, "set") == 0) {
    bytes value = decode(get(s, "value"));
    uint32_t flags = (num(s, "nx", 0) ? NC_SET_NX : 0) | (num(s, "xx", 0) ? NC_SET_XX : 0);
    st = nc_cache_set(c, key.data, key.len, value.data, value.len, (uint64_t)num(s, "ttl_ms", 0), flags);
    free(value.data);
    if (!error && (st == NC_OK || st == NC_NOT_WRITTEN) && (st == NC_OK) != (num(s, "expect", -1) == 1))
      r = fail("expected %s, got %s", expect, nc_status_code(st));
  } else if (strcmp(op, "set_many") == 0) {
    size_t n = list_len(s, "items");
    blist k = decode_list(s, "%s.%zu.0", "items"), v = decode_list(s, "%s.%zu.1", "items");
    k.n = v.n = n; /* items=#N counts pairs */
    st = nc_cache_set_many(c, n, k.ptrs, k.lens, v.ptrs, v.lens, (uint64_t)num(s, "ttl_ms", 0));
    free_list(&k);
    free_list(&v);
  } else if (strcmp(op, "delete") == 0 || strcmp(op, "expire") == 0) {
    st = strcmp(op, "delete") == 0 ? nc_cache_delete(c, key.data, key.len)
                                   : nc_cache_expire(c, key.data, key.len, (uint64_t)num(s, "ttl_ms", 0));
    if (!error && (st == NC_OK || st == NC_NOT_FOUND) && (st == NC_OK) != (num(s, "expect", -1) == 1))
      r = fail("expected %s, got %s", expect, nc_status_code(st));
  } else if (strcmp(op, "ttl") == 0) {
    int64_t ms = 0;
    st = nc_cache_ttl(c, key.data, key.len, &ms);
    if (!error && st < 100) {
      if (strcmp(expect ? expect : "", "missing") == 0) {
        if (st != NC_NOT_FOUND) r = fail("expected a missing key, got %s", nc_status_code(st));
      } else if (st != NC_OK) {
        r = fail("unexpected %s", nc_status_code(st));
      } else if (strcmp(expect ? expect : "", "persistent") == 0) {
        if (ms != -1) r = fail("expected no expiry, got %lld ms", (long long)ms);
      } else if (ms < num(s, "expect.min_ms", 0) || ms > num(s, "expect.max_ms", 0)) {
        r = fail("ttl %lld ms out of [%lld, %lld]", (long long)ms, num(s, "expect.min_ms", 0),
                 num(s, "expect.max_ms", 0));
      }
    }
  } else if (strcmp(op, "hgetall") == 0) {
    nc_reply *reply = NULL;
    st = nc_cache_hgetall(c, key.data, key.len, &reply);
    if (st == NC_OK) {
      size_t n = nc_reply_len(reply) / 2;
      bytes *pairs = calloc(n + 1, 2 * sizeof(bytes));
      for (size_t i = 0; i < n; i++) {
        const nc_reply *f = NULL, *v = NULL;
        nc_reply_element(reply, 2 * i, &f);
        nc_reply_element(reply, 2 * i + 1, &v);
        nc_reply_string(f, (const uint8_t **)&pairs[2 * i].data, &pairs[2 * i].len);
        nc_reply_string(v, (const uint8_t **)&pairs[2 * i + 1].data, &pairs[2 * i + 1].len);
      }
      qsort(pairs, n, 2 * sizeof(bytes), cmp_bytes);
      if (nc_reply_get_type(reply) != NC_REPLY_MAP || n != list_len(s, "expect")) r = fail("expected %zu fields, got %zu", list_len(s, "expect"), n);
      for (size_t i = 0; i < n && !r; i++)
        if (!same(pairs[2 * i].data, pairs[2 * i].len, 0, getf(s, "expect.%zu.0", i)) ||
            !same(pairs[2 * i + 1].data, pairs[2 * i + 1].len, 0, getf(s, "expect.%zu.1", i)))
          r = fail("field %zu differs", i);
      free(pairs);
    }
    nc_reply_free(reply);
  } else if (strcmp(op, "hset") == 0) {
    size_t n = list_len(s, "fields");
    blist f = decode_list(s, "%s.%zu.0", "fields"), v = decode_list(s, "%s.%zu.1", "fields");
    f.n = v.n = n;
    uint64_t added = 0;
    st = nc_cache_hset(c, key.data, key.len, n, f.ptrs, f.lens, v.ptrs, v.lens, &added);
    if (st == NC_OK && (long long)added != num(s, "expect", -1)) r = fail("expected %s new fields, got %llu", expect, (unsigned long long)added);
    free_list(&f);
    free_list(&v);
  } else if (strcmp(op, "hdel") == 0) {
    blist f = decode_list(s, "%s.%zu", "fields");
    uint64_t removed = 0;
    st = nc_cache_hdel(c, key.data, key.len, f.n, f.ptrs, f.lens, &removed);
    if (st == NC_OK && (long long)removed != num(s, "expect", -1)) r = fail("expected %s removed, got %llu", expect, (unsigned long long)removed);
    free_list(&f);
  } else if (strcmp(op, "invalidate_local") == 0) {
    blist l = decode_list(s, "%s.%zu", "keys");
    st = nc_cache_invalidate_local(c, l.n, l.ptrs, l.lens);
    free_list(&l);
  } else if (strcmp(op, "scan") == 0) {
    bytes pattern = decode(get(s, "pattern"));
    nc_scan *scan = NULL;
    st = nc_cache_scan(c, pattern.data, pattern.len, &scan);
    free(pattern.data);
    size_t n = 0, cap = 16;
    bytes *keys = calloc(cap, sizeof(bytes));
    nc_value *k = NULL;
    while (st == NC_OK && (st = nc_scan_next(scan, &k)) == NC_OK) {
      if (n == cap) keys = realloc(keys, (cap *= 2) * sizeof(bytes));
      keys[n].len = nc_value_len(k);
      keys[n].data = malloc(keys[n].len + 1);
      memcpy(keys[n].data, nc_value_data(k), keys[n].len);
      n++;
      nc_value_free(k);
    }
    if (st == NC_NOT_FOUND) st = NC_OK;
    nc_scan_free(scan);
    qsort(keys, n, sizeof(bytes), cmp_bytes);
    size_t u = 0; /* unique */
    for (size_t i = 0; i < n; i++) {
      if (u > 0 && cmp_bytes(&keys[u - 1], &keys[i]) == 0) {
        free(keys[i].data);
        continue;
      }
      keys[u++] = keys[i];
    }
    if (st == NC_OK && u != list_len(s, "expect")) r = fail("expected %zu keys, got %zu", list_len(s, "expect"), u);
    for (size_t i = 0; i < u; i++) {
      if (st == NC_OK && !r && !same(keys[i].data, keys[i].len, 0, getf(s, "expect.%zu", i))) r = fail("key %zu differs", i);
      free(keys[i].data);
    }
    free(keys);
  } else if (strcmp(op, "delete_prefix") == 0) {
    bytes prefix = decode(get(s, "prefix"));
    uint64_t deleted = 0;
    st = nc_cache_delete_prefix(c, prefix.data, prefix.len, &deleted);
    free(prefix.data);
    if (st == NC_OK && (long long)deleted != num(s, "expect", -1)) r = fail("expected %s deleted, got %llu", expect, (unsigned long long)deleted);
  } else if (strcmp(op, "command") == 0) {
    blist a = decode_list(s, "%s.%zu", "args");
    nc_reply *reply = NULL;
    st = nc_cache_command(c, a.n, a.ptrs, a.lens, &reply);
    if (st == NC_OK) {
      if (expect && !reply_is(reply, s, "expect")) r = fail("reply differs from %.80s (type %d)", expect, nc_reply_get_type(reply));
      const char *prefix = get(s, "expect_prefix");
      if (prefix && !r) {
        bytes p = decode(prefix);
        const uint8_t *data = NULL;
        size_t len = 0;
        if (nc_reply_string(reply, &data, &len) != NC_OK || len < p.len || memcmp(data, p.data, p.len) != 0)
          r = fail("the reply does not start with %s", prefix);
        free(p.data);
      }
      if (get(s, "expect_below") && !r) {
        int64_t i = 0;
        if (nc_reply_integer(reply, &i) != NC_OK || i >= num(s, "expect_below", 0)) r = fail("%lld is not below %s", (long long)i, get(s, "expect_below"));
      }
    }
    nc_reply_free(reply);
    free_list(&a);
  } else if (strcmp(op, "stats") == 0) {
    char *json = NULL;
    st = nc_cache_stats_json(c, &json);
    for (size_t i = 0; st == NC_OK && i < s->n && !r; i++) {
      if (strncmp(s->name[i], "expect.", 7) != 0) continue;
      char needle[128];
      snprintf(needle, sizeof needle, "\"%s\":", s->name[i] + 7);
      const char *at = strstr(json, needle);
      if (!at) r = fail("stats has no %s", s->name[i] + 7);
      else if (strtoll(at + strlen(needle), NULL, 10) != strtoll(s->value[i], NULL, 10))
        r = fail("stats.%s: expected %s, got %lld", s->name[i] + 7, s->value[i], strtoll(at + strlen(needle), NULL, 10));
    }
    nc_string_free(json);
  } else if (strcmp(op, "close") == 0) {
    st = nc_cache_close(c);
  } else if ((r = run_command_step(c, s, op, &key, &st)) == -1) {
    r = fail("unknown op %s", op);
  }
  free(key.data);

done:
  if (r) return r;
  if (get(s, "expect_loader_called") && lctx.called != num(s, "expect_loader_called", -1))
    return fail("loader called: %d", lctx.called);
  if (st >= 100) {
    const char *code = nc_status_code(st);
    char message[2048];
    snprintf(message, sizeof message, "%s", nc_last_error());
    if (!error) return fail("unexpected %s: %s", code, message);
    if (strcmp(code, error) != 0) return fail("expected %s, got %s: %s", error, code, message);
    const char *v;
    if ((v = get(s, "message_prefix"))) {
      bytes p = decode(v);
      int ok = strlen(message) >= p.len && memcmp(message, p.data, p.len) == 0;
      free(p.data);
      if (!ok) return fail("message %s", message);
    }
    if ((v = get(s, "message_is"))) {
      bytes p = decode(v);
      int ok = strlen(message) == p.len && memcmp(message, p.data, p.len) == 0;
      free(p.data);
      if (!ok) return fail("message %s", message);
    }
    if ((v = get(s, "message_contains"))) {
      bytes p = decode(v);
      p.data[p.len] = '\0';
      int ok = strstr(message, (char *)p.data) != NULL;
      free(p.data);
      if (!ok) return fail("message %s", message);
    }
    if ((v = get(s, "message_excludes"))) {
      bytes p = decode(v);
      p.data[p.len] = '\0';
      int ok = strstr(message, (char *)p.data) == NULL;
      free(p.data);
      if (!ok) return fail("message %s", message);
    }
    return 0;
  }
  if (error) return fail("expected %s, got %s", error, nc_status_code(st));
  return 0;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int flush_db(void) {
  nc_config *cfg = NULL;
  nc_cache *admin = NULL;
  nc_reply *reply = NULL;
  nc_config_new(&cfg);
  nc_config_set(cfg, "url", url);
  nc_config_set(cfg, "l1.invalidation", "off");
  nc_status st = nc_cache_open(cfg, &admin);
  nc_config_free(cfg);
  if (st == NC_OK) {
    const uint8_t *argv[] = {(const uint8_t *)"FLUSHDB"};
    size_t lens[] = {7};
    st = nc_cache_command(admin, 1, argv, lens, &reply);
  }
  nc_reply_free(reply);
  nc_cache_free(admin);
  return st == NC_OK ? 0 : fail("FLUSHDB: %s", nc_last_error());
}

static char *slurp(const char *dir, const char *name) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)n + 1);
  size_t got = fread(text, 1, (size_t)n, f);
  text[got] = '\0';
  while (got > 0 && text[got - 1] == '\n') text[--got] = '\0';
  fclose(f);
  return text;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every config file: the effective config JSON, or the error, byte for byte. */
static int check_configs(const char *dir) {
  int failed = 0;
  DIR *d = opendir(dir);
  if (!d) return 1;
  char *names[256];
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 256;) {
    size_t len = strlen(e->d_name);
    int config = (len > 5 && strcmp(e->d_name + len - 5, ".toml") == 0) ||
                 (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0);
    if (config && !strstr(e->d_name, ".expected")) names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp_str);
  for (size_t i = 0; i < n; i++) {
    char path[2048], stem[512], want[600];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 5), names[i]);
    snprintf(want, sizeof want, "%s.expected.json", stem);
    char *expected_json = slurp(dir, want);
    snprintf(want, sizeof want, "%s.expected-error.txt", stem);
    char *expected_error = slurp(dir, want);
    nc_cache *c = NULL;
    char *json = NULL;
    nc_status st = nc_cache_open_config(path, &c);
    int ok;
    if (!expected_json == !expected_error) {
      ok = 0;
    } else if (expected_json) {
      ok = st == NC_OK && nc_cache_config_json(c, &json) == NC_OK && strcmp(json, expected_json) == 0;
    } else {
      ok = st == NC_ERR_CONFIG && strcmp(nc_last_error(), expected_error) == 0;
    }
    printf("%s config %s\n", ok ? "ok  " : "FAIL", names[i]);
    if (!ok) {
      printf("     got: %s\n", json ? json : st == NC_OK ? "(opened)" : nc_last_error());
      failed = 1;
    }
    nc_string_free(json);
    nc_cache_free(c);
    free(expected_json);
    free(expected_error);
    free(names[i]);
  }
  return failed;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s URL SCENARIOS.txt CONFIGS_DIR WORKDIR\n", argv[0]);
    return 2;
  }
  url = argv[1];
  workdir = argv[4];
  FILE *in = fopen(argv[2], "r");
  if (!in) return 2;
  char *line = NULL, *inner = NULL;
  size_t cap = 0, inner_cap = 0;
  char name[256] = "";
  int failed = 0, scenario_failed = 0, skipped = 0, index = 0;
  step *s = malloc(sizeof *s), *t = malloc(sizeof *t);
  while (getline(&line, &cap, in) > 0) {
    if (strncmp(line, "scenario ", 9) == 0) {
      sscanf(line + 9, "%255s", name);
      scenario_failed = flush_db();
      index = 0;
      skipped = 0;
      if (scenario_failed) printf("FAIL %s: %s\n", name, failure);
      continue;
    }
    if (strncmp(line, "end", 3) == 0) {
      if (!scenario_failed) {
        if (skipped) printf("ok   scenario %s (%d steps skipped, above)\n", name, skipped);
        else printf("ok   scenario %s\n", name);
      }
      failed |= scenario_failed;
      close_all();
      continue;
    }
    if (strncmp(line, "skip ", 5) == 0) {
      /* A step C's types cannot express; the converter says why. */
      char skip_op[64] = "";
      int reason_at = 0;
      sscanf(line + 5, "%63s %n", skip_op, &reason_at);
      line[strcspn(line, "\n")] = '\0';
      printf("skip scenario %s step %d (%s): %s\n", name, index++, skip_op, line + 5 + reason_at);
      skipped++;
      continue;
    }
    parse(line, s);
    int this_index = index++;
    const step *run = s;
    double deadline = 0;
    if (strcmp(get(s, "op"), "eventually") == 0) {
      deadline = now_ms() + (double)num(s, "within_ms", 0);
      if (getline(&inner, &inner_cap, in) <= 0) return 2;
      parse(inner, t);
      run = t;
    }
    if (scenario_failed) continue;
    for (;;) {
      int r = run_step(run);
      if (!r) break;
      if (deadline > 0 && now_ms() < deadline) {
        struct timespec ten_ms = {0, 10000000};
        nanosleep(&ten_ms, NULL);
        continue;
      }
      printf("FAIL scenario %s step %d (%s): %s\n", name, this_index, get(run, "op"), failure);
      scenario_failed = 1;
      break;
    }
  }
  free(line);
  free(inner);
  free(s);
  free(t);
  fclose(in);
  failed |= check_configs(argv[3]);
  printf(failed ? "conformance (C): FAILED\n" : "conformance (C): ok\n");
  return failed;
}
