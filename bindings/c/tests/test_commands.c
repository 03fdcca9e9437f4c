/*
 * Issue 15's C surface against a real redis-server (NC_TEST_URL, started by
 * tests/run.sh): nc_cache_read, the typed reads and writes, pipelines,
 * transactions (4 threads x 250 WATCH-guarded increments, retry
 * exhaustion) and scripts (with the NOSCRIPT fallback). Every key starts
 * with "t15:" and is deleted first.
 *
 * Most caches here use `l1.invalidation = "ttl"`: nothing but nearcache's
 * own-write rule drops an L1 entry then, so a read-back after a write
 * fails if that rule is missing on some path.
 */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "harness.h"

static const char *url;

/* An argv built from NUL-terminated strings. */
typedef struct {
  size_t n;
  const uint8_t *p[16];
  size_t l[16];
} args_t;

static args_t A(int n, ...) {
  args_t a;
  va_list ap;
  va_start(ap, n);
  a.n = (size_t)n;
  for (int i = 0; i < n && i < 16; i++) {
    const char *s = va_arg(ap, const char *);
    a.p[i] = (const uint8_t *)s;
    a.l[i] = strlen(s);
  }
  va_end(ap);
  return a;
}

static nc_cache *open_with(const char *invalidation, const char *retries) {
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", url), NC_OK);
  if (invalidation) CHECK_STATUS(nc_config_set(cfg, "l1.invalidation", invalidation), NC_OK);
  if (retries) CHECK_STATUS(nc_config_set(cfg, "redis.transaction_retries", retries), NC_OK);
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_OK);
  nc_config_free(cfg);
  return cache;
}

static void run(const nc_cache *cache, args_t a) {
  nc_reply *r = NULL;
  CHECK_STATUS(nc_cache_command(cache, a.n, a.p, a.l, &r), NC_OK);
  nc_reply_free(r);
}

static void del(const nc_cache *cache, const char *key) { run(cache, A(2, "DEL", key)); }

static int str_is(const nc_reply *r, const char *text) {
  const uint8_t *data = NULL;
  size_t len = 0;
  return nc_reply_string(r, &data, &len) == NC_OK && len == strlen(text) && memcmp(data, text, len) == 0;
}

static int int_is(const nc_reply *r, int64_t want) {
  int64_t i = 0;
  return nc_reply_integer(r, &i) == NC_OK && i == want;
}

/* Element i of an aggregate (NULL when there is none). */
static const nc_reply *at(const nc_reply *r, size_t i) {
  const nc_reply *e = NULL;
  return nc_reply_element(r, i, &e) == NC_OK ? e : NULL;
}

/* Whether the string elements of `r` are `want` (n of them) in any order. */
static int strings_are(const nc_reply *r, size_t n, const char *const *want) {
  if (nc_reply_len(r) != n) return 0;
  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    for (size_t j = 0; j < n && !seen; j++) seen = str_is(at(r, j), want[i]);
    if (!seen) return 0;
  }
  return 1;
}

/* A counter of nc_cache_stats_json. */
static long long stat(const nc_cache *cache, const char *name) {
  char *json = NULL, needle[128];
  long long v = -1;
  if (nc_cache_stats_json(cache, &json) != NC_OK) return -1;
  snprintf(needle, sizeof needle, "\"%s\":", name);
  const char *found = strstr(json, needle);
  if (found) v = strtoll(found + strlen(needle), NULL, 10);
  nc_string_free(json);
  return v;
}

static void test_typed_reads(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_reply *r = NULL;
  nc_value *v = NULL;
  uint64_t n = 0;
  double d = 0;
  const char *keys[] = {"t15:h", "t15:s", "t15:z", "t15:l", "t15:str"};
  for (size_t i = 0; i < 5; i++) del(cache, keys[i]);
  run(cache, A(6, "HSET", "t15:h", "name", "Ada", "lang", "en"));
  run(cache, A(5, "SADD", "t15:s", "a", "b", "c"));
  run(cache, A(8, "ZADD", "t15:z", "1", "a", "2.5", "b", "3", "c"));
  run(cache, A(5, "RPUSH", "t15:l", "x", "y", "z"));
  run(cache, A(3, "SET", "t15:str", "hello"));

  /* Hashes. */
  CHECK_STATUS(nc_cache_hexists(cache, S("t15:h"), S("name")), NC_OK);
  CHECK_STATUS(nc_cache_hexists(cache, S("t15:h"), S("nope")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:h"), &n), NC_OK);
  CHECK(n == 2);
  CHECK_STATUS(nc_cache_hkeys(cache, S("t15:h"), &r), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_ARRAY && strings_are(r, 2, (const char *[]){"name", "lang"}));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_hvals(cache, S("t15:h"), &r), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_ARRAY && strings_are(r, 2, (const char *[]){"Ada", "en"}));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:none"), &n), NC_OK);
  CHECK(n == 0);

  /* Sets. */
  CHECK_STATUS(nc_cache_smembers(cache, S("t15:s"), &r), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_SET && strings_are(r, 3, (const char *[]){"a", "b", "c"}));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_sismember(cache, S("t15:s"), S("b")), NC_OK);
  CHECK_STATUS(nc_cache_sismember(cache, S("t15:s"), S("zz")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_scard(cache, S("t15:s"), &n), NC_OK);
  CHECK(n == 3);

  /* Sorted sets. */
  CHECK_STATUS(nc_cache_zscore(cache, S("t15:z"), S("b"), &d), NC_OK);
  CHECK(d == 2.5);
  d = 77;
  CHECK_STATUS(nc_cache_zscore(cache, S("t15:z"), S("nope"), &d), NC_NOT_FOUND);
  CHECK(d == 77);
  CHECK_STATUS(nc_cache_zrange(cache, S("t15:z"), 0, -1, 0, &r), NC_OK);
  CHECK(nc_reply_len(r) == 3 && str_is(at(r, 0), "a") && str_is(at(r, 1), "b") && str_is(at(r, 2), "c"));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_zrange(cache, S("t15:z"), 0, 1, NC_ZRANGE_WITHSCORES | NC_ZRANGE_REV, &r), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_ARRAY && nc_reply_len(r) == 2);
  const nc_reply *pair = at(r, 0);
  CHECK(nc_reply_get_type(pair) == NC_REPLY_ARRAY && nc_reply_len(pair) == 2 && str_is(at(pair, 0), "c"));
  CHECK(nc_reply_get_type(at(pair, 1)) == NC_REPLY_DOUBLE);
  CHECK_STATUS(nc_reply_double(at(pair, 1), &d), NC_OK);
  CHECK(d == 3);
  CHECK(str_is(at(at(r, 1), 0), "b"));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_zrange(cache, S("t15:z"), 0, 1, 8, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("unknown zrange flags 0x8");
  CHECK_STATUS(nc_cache_zrank(cache, S("t15:z"), S("c"), &n), NC_OK);
  CHECK(n == 2);
  CHECK_STATUS(nc_cache_zrevrank(cache, S("t15:z"), S("c"), &n), NC_OK);
  CHECK(n == 0);
  CHECK_STATUS(nc_cache_zrank(cache, S("t15:z"), S("nope"), &n), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_zcard(cache, S("t15:z"), &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_zcount(cache, S("t15:z"), "(1", "+inf", &n), NC_OK);
  CHECK(n == 2);
  CHECK_STATUS(nc_cache_zcount(cache, S("t15:z"), "one", "+inf", &n), NC_ERR_REDIS);

  /* Lists, strings, keys. */
  CHECK_STATUS(nc_cache_lrange(cache, S("t15:l"), 1, -1, &r), NC_OK);
  CHECK(nc_reply_len(r) == 2 && str_is(at(r, 0), "y") && str_is(at(r, 1), "z"));
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_lindex(cache, S("t15:l"), -1, &v), NC_OK);
  CHECK(value_is(v, "z", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_lindex(cache, S("t15:l"), 10, &v), NC_NOT_FOUND);
  CHECK(v == NULL);
  CHECK_STATUS(nc_cache_llen(cache, S("t15:l"), &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_exists(cache, S("t15:str")), NC_OK);
  CHECK_STATUS(nc_cache_exists(cache, S("t15:none")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_strlen(cache, S("t15:str"), &n), NC_OK);
  CHECK(n == 5);

  /* Cached: asking again is answered by L1. */
  long long hits = stat(cache, "l1_read_hits");
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:h"), &n), NC_OK);
  CHECK_STATUS(nc_cache_scard(cache, S("t15:s"), &n), NC_OK);
  CHECK(stat(cache, "l1_read_hits") == hits + 2);

  /* Errors are core's. */
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:str"), &n), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("WRONGTYPE");
  CHECK_STATUS(nc_cache_smembers(cache, (const uint8_t *)"", 0, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("empty");
  for (size_t i = 0; i < 5; i++) del(cache, keys[i]);
  nc_cache_free(cache);
}

static void test_generic_read(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_reply *r = NULL;
  del(cache, "t15:rz");
  run(cache, A(6, "ZADD", "t15:rz", "1", "a", "2", "b"));
  args_t a = A(5, "zrange", "t15:rz", "0", "-1", "withscores");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_OK);
  CHECK(nc_reply_len(r) == 2 && str_is(at(at(r, 1), 0), "b"));
  nc_reply_free(r);
  long long hits = stat(cache, "l1_read_hits");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_OK);
  CHECK(stat(cache, "l1_read_hits") == hits + 1);
  nc_reply_free(r);
  a = A(2, "ZCARD", "t15:rz");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_OK);
  CHECK(int_is(r, 2));
  nc_reply_free(r);
  r = (nc_reply *)0x1;
  a = A(2, "TTL", "t15:rz");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("TTL");
  a = A(3, "SET", "t15:rz", "x");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("SET");
  a = A(3, "EXISTS", "t15:rz", "t15:other");
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_read(cache, 0, NULL, NULL, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK(r == (nc_reply *)0x1);
  del(cache, "t15:rz");
  nc_cache_free(cache);
}

static void test_typed_writes(void) {
  nc_cache *cache = open_with("ttl", NULL);
  int64_t i = 0;
  uint64_t n = 0;
  double d = 0;
  nc_value *v = NULL;
  const char *keys[] = {"t15:n", "t15:wh", "t15:ws", "t15:wz", "t15:wl", "t15:wt"};
  for (size_t k = 0; k < 6; k++) del(cache, keys[k]);

  CHECK_STATUS(nc_cache_incr(cache, S("t15:n"), &i), NC_OK);
  CHECK(i == 1);
  CHECK_STATUS(nc_cache_get(cache, S("t15:n"), &v), NC_OK); /* now in L1 */
  CHECK(value_is(v, "1", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_incrby(cache, S("t15:n"), 41, &i), NC_OK);
  CHECK(i == 42);
  CHECK_STATUS(nc_cache_decr(cache, S("t15:n"), NULL), NC_OK); /* the output is optional */
  CHECK_STATUS(nc_cache_decrby(cache, S("t15:n"), 40, &i), NC_OK);
  CHECK(i == 1);
  CHECK_STATUS(nc_cache_get(cache, S("t15:n"), &v), NC_OK); /* the own write dropped L1's copy */
  CHECK(value_is(v, "1", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_incr(cache, S("t15:wt"), &i), NC_OK);
  run(cache, A(3, "SET", "t15:wt", "text"));
  i = 77;
  CHECK_STATUS(nc_cache_incr(cache, S("t15:wt"), &i), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("not an integer");
  CHECK(i == 77);

  CHECK_STATUS(nc_cache_hincrby(cache, S("t15:wh"), S("visits"), 5, &i), NC_OK);
  CHECK(i == 5);
  CHECK_STATUS(nc_cache_hget(cache, S("t15:wh"), S("visits"), &v), NC_OK);
  CHECK(value_is(v, "5", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_hincrby(cache, S("t15:wh"), S("visits"), -2, &i), NC_OK);
  CHECK_STATUS(nc_cache_hget(cache, S("t15:wh"), S("visits"), &v), NC_OK);
  CHECK(value_is(v, "3", 1));
  nc_value_free(v);

  args_t m = A(3, "a", "b", "c");
  CHECK_STATUS(nc_cache_scard(cache, S("t15:ws"), &n), NC_OK); /* a cached 0 */
  CHECK_STATUS(nc_cache_sadd(cache, S("t15:ws"), m.n, m.p, m.l, &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_scard(cache, S("t15:ws"), &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_srem(cache, S("t15:ws"), 2, m.p, m.l, &n), NC_OK);
  CHECK(n == 2);
  CHECK_STATUS(nc_cache_sismember(cache, S("t15:ws"), S("a")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_sadd(cache, S("t15:ws"), 0, NULL, NULL, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("nothing to add");
  CHECK_STATUS(nc_cache_srem(cache, S("t15:ws"), 0, NULL, NULL, &n), NC_OK);
  CHECK(n == 0);

  double scores[] = {1, 2.5, INFINITY};
  CHECK_STATUS(nc_cache_zadd(cache, S("t15:wz"), 3, m.p, m.l, scores, &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_zscore(cache, S("t15:wz"), S("c"), &d), NC_OK);
  CHECK(isinf(d) && d > 0);
  CHECK_STATUS(nc_cache_zincrby(cache, S("t15:wz"), 10, S("a"), &d), NC_OK);
  CHECK(d == 11);
  CHECK_STATUS(nc_cache_zscore(cache, S("t15:wz"), S("a"), &d), NC_OK);
  CHECK(d == 11);
  double nan_score[] = {NAN};
  CHECK_STATUS(nc_cache_zadd(cache, S("t15:wz"), 1, m.p, m.l, nan_score, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("NaN");
  CHECK_STATUS(nc_cache_zadd(cache, S("t15:wz"), 1, m.p, m.l, NULL, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("scores is NULL");
  CHECK_STATUS(nc_cache_zincrby(cache, S("t15:wz"), NAN, S("a"), &d), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_zrem(cache, S("t15:wz"), 1, m.p + 1, m.l + 1, &n), NC_OK);
  CHECK(n == 1);
  CHECK_STATUS(nc_cache_zcard(cache, S("t15:wz"), &n), NC_OK);
  CHECK(n == 2);

  CHECK_STATUS(nc_cache_rpush(cache, S("t15:wl"), 3, m.p, m.l, &n), NC_OK);
  CHECK(n == 3);
  CHECK_STATUS(nc_cache_lpush(cache, S("t15:wl"), 1, m.p + 2, m.l + 2, &n), NC_OK);
  CHECK(n == 4);
  CHECK_STATUS(nc_cache_lpush(cache, S("t15:wl"), 0, NULL, NULL, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_lpop(cache, S("t15:wl"), &v), NC_OK);
  CHECK(value_is(v, "c", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_rpop(cache, S("t15:wl"), &v), NC_OK);
  CHECK(value_is(v, "c", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_llen(cache, S("t15:wl"), &n), NC_OK);
  CHECK(n == 2);
  CHECK_STATUS(nc_cache_ltrim(cache, S("t15:wl"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_llen(cache, S("t15:wl"), &n), NC_OK);
  CHECK(n == 1);
  CHECK_STATUS(nc_cache_lpop(cache, S("t15:none"), &v), NC_NOT_FOUND);
  CHECK(v == NULL);

  CHECK_STATUS(nc_cache_set(cache, S("t15:wt"), S("v"), 60000, 0), NC_OK);
  CHECK_STATUS(nc_cache_persist(cache, S("t15:wt")), NC_OK);
  int64_t ttl = 0;
  CHECK_STATUS(nc_cache_ttl(cache, S("t15:wt"), &ttl), NC_OK);
  CHECK(ttl == -1);
  CHECK_STATUS(nc_cache_persist(cache, S("t15:wt")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_persist(cache, S("t15:none")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_incr(cache, (const uint8_t *)"", 0, &i), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("empty");
  for (size_t k = 0; k < 6; k++) del(cache, keys[k]);
  nc_cache_free(cache);
}

static void test_null_arguments(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_reply *r = (nc_reply *)0x1;
  nc_value *v = (nc_value *)0x1;
  nc_pipeline *p = NULL;
  nc_replies *rs = (nc_replies *)0x1;
  nc_transaction *tx = NULL;
  nc_script *script = NULL;
  const nc_reply *e = (const nc_reply *)0x1;
  uint64_t n = 7;
  double d = 7;
  int64_t i = 7;
  args_t a = A(2, "GET", "t15:k");

  CHECK_STATUS(nc_cache_read(NULL, a.n, a.p, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("cache is NULL");
  CHECK_STATUS(nc_cache_read(cache, a.n, NULL, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_read(cache, a.n, a.p, a.l, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hexists(cache, S("t15:k"), NULL, 1), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("field is NULL");
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("out is NULL");
  CHECK_STATUS(nc_cache_hlen(cache, NULL, 3, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("key is NULL");
  CHECK_STATUS(nc_cache_hkeys(NULL, S("t15:k"), &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_smembers(cache, S("t15:k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_sismember(cache, S("t15:k"), NULL, 2), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_zscore(cache, S("t15:k"), S("m"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_zrange(cache, S("t15:k"), 0, -1, 0, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_zcount(cache, S("t15:k"), NULL, "1", &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("min is NULL");
  CHECK_STATUS(nc_cache_lindex(cache, S("t15:k"), 0, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_exists(NULL, S("t15:k")), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_incr(NULL, S("t15:k"), &i), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hincrby(cache, S("t15:k"), NULL, 1, 1, &i), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_sadd(cache, S("t15:k"), 1, NULL, a.l, &n), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_zincrby(cache, S("t15:k"), 1, NULL, 1, &d), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_lpop(cache, S("t15:k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_persist(NULL, S("t15:k")), NC_ERR_INVALID_ARGUMENT);
  CHECK(r == (nc_reply *)0x1 && v == (nc_value *)0x1 && n == 7 && d == 7 && i == 7);

  CHECK_STATUS(nc_pipeline_new(NULL, false, &p), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_pipeline_new(cache, false, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_pipeline_add(NULL, a.n, a.p, a.l), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("pipeline is NULL");
  CHECK_STATUS(nc_pipeline_add_script(NULL, NULL, 0, NULL, NULL, 0, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_pipeline_execute(NULL, &rs), NC_ERR_INVALID_ARGUMENT);
  CHECK(nc_pipeline_len(NULL) == 0);
  CHECK_STATUS(nc_pipeline_new(cache, false, &p), NC_OK);
  CHECK_STATUS(nc_pipeline_add(p, a.n, a.p, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_pipeline_add_script(p, NULL, 0, NULL, NULL, 0, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("script is NULL");
  CHECK_STATUS(nc_pipeline_execute(p, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(nc_pipeline_len(p) == 0);
  nc_pipeline_free(p);
  CHECK(nc_replies_len(NULL) == 0);
  CHECK_STATUS(nc_replies_get(NULL, 0, &e), NC_ERR_INVALID_ARGUMENT);
  CHECK(e == (const nc_reply *)0x1 && rs == (nc_replies *)0x1);

  CHECK_STATUS(nc_transaction_watch(NULL, 0, NULL, NULL, &tx), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_watch(cache, 1, NULL, NULL, &tx), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_watch(cache, 0, NULL, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_command(NULL, a.n, a.p, a.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("tx is NULL");
  CHECK_STATUS(nc_transaction_multi(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_queue(NULL, a.n, a.p, a.l), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_queue_script(NULL, NULL, 0, NULL, NULL, 0, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_exec(NULL, &rs), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_reset(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_transaction(NULL, 0, NULL, NULL, NULL, NULL, &rs), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_transaction(cache, 0, NULL, NULL, NULL, NULL, &rs), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("body is NULL");
  CHECK(tx == NULL && rs == (nc_replies *)0x1);

  CHECK_STATUS(nc_script_new(NULL, S("return 1"), &script), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_script_new(cache, NULL, 8, &script), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_script_new(cache, S("return 1"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_script_call(NULL, 0, NULL, NULL, 0, NULL, NULL, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK(nc_script_sha1(NULL) == NULL);
  CHECK(script == NULL);

  nc_pipeline_free(NULL);
  nc_replies_free(NULL);
  nc_transaction_free(NULL);
  nc_script_free(NULL);
  nc_cache_free(cache);
}

/* Every write interface, read back at once through a cached read that L1
 * held before the write. */
static void test_write_read_back(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_value *v = NULL;
  nc_reply *r = NULL;
  nc_replies *rs = NULL;
  uint64_t n = 0;
  del(cache, "t15:rb");
  run(cache, A(4, "HSET", "t15:rb", "f", "0"));
#define FILL_THEN_EXPECT(step, want)                                   \
  do {                                                                 \
    CHECK_STATUS(nc_cache_hget(cache, S("t15:rb"), S("f"), &v), NC_OK); \
    nc_value_free(v);                                                  \
    step;                                                              \
    CHECK_STATUS(nc_cache_hget(cache, S("t15:rb"), S("f"), &v), NC_OK); \
    CHECK(value_is(v, want, strlen(want)));                            \
    nc_value_free(v);                                                  \
  } while (0)

  /* typed helper */
  FILL_THEN_EXPECT(CHECK_STATUS(nc_cache_hincrby(cache, S("t15:rb"), S("f"), 1, NULL), NC_OK), "1");
  /* raw command */
  FILL_THEN_EXPECT(run(cache, A(4, "HSET", "t15:rb", "f", "2")), "2");
  /* pipeline */
  nc_pipeline *p = NULL;
  CHECK_STATUS(nc_pipeline_new(cache, false, &p), NC_OK);
  args_t a = A(4, "HSET", "t15:rb", "f", "3");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_pipeline_add(p, a.n, a.p, a.l), NC_OK);
                   CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK); nc_replies_free(rs), "3");
  /* transactional pipeline */
  nc_pipeline *tp = NULL;
  CHECK_STATUS(nc_pipeline_new(cache, true, &tp), NC_OK);
  a = A(4, "HSET", "t15:rb", "f", "4");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_pipeline_add(tp, a.n, a.p, a.l), NC_OK);
                   CHECK_STATUS(nc_pipeline_execute(tp, &rs), NC_OK); nc_replies_free(rs), "4");
  /* transaction */
  nc_transaction *tx = NULL;
  args_t key = A(1, "t15:rb");
  a = A(4, "HSET", "t15:rb", "f", "5");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
                   CHECK_STATUS(nc_transaction_multi(tx), NC_OK);
                   CHECK_STATUS(nc_transaction_queue(tx, a.n, a.p, a.l), NC_OK);
                   CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_OK); nc_replies_free(rs); nc_transaction_free(tx),
                   "5");
  /* transaction, immediate command */
  a = A(4, "HSET", "t15:rb", "f", "6");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
                   CHECK_STATUS(nc_transaction_command(tx, a.n, a.p, a.l, &r), NC_OK); nc_reply_free(r);
                   nc_transaction_free(tx), "6");
  /* script */
  nc_script *script = NULL;
  CHECK_STATUS(nc_script_new(cache, S("return redis.call('HSET', KEYS[1], 'f', ARGV[1])"), &script), NC_OK);
  args_t arg = A(1, "7");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_script_call(script, 1, key.p, key.l, 1, arg.p, arg.l, &r), NC_OK);
                   nc_reply_free(r), "7");
  /* script in a pipeline */
  arg = A(1, "8");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_pipeline_add_script(p, script, 1, key.p, key.l, 1, arg.p, arg.l), NC_OK);
                   CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK); nc_replies_free(rs), "8");
  /* script queued in a transaction */
  arg = A(1, "9");
  FILL_THEN_EXPECT(CHECK_STATUS(nc_transaction_watch(cache, 0, NULL, NULL, &tx), NC_OK);
                   CHECK_STATUS(nc_transaction_queue_script(tx, script, 1, key.p, key.l, 1, arg.p, arg.l), NC_OK);
                   CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_OK); nc_replies_free(rs); nc_transaction_free(tx),
                   "9");
#undef FILL_THEN_EXPECT
  CHECK_STATUS(nc_cache_hlen(cache, S("t15:rb"), &n), NC_OK);
  CHECK(n == 1);
  nc_script_free(script);
  nc_pipeline_free(p);
  nc_pipeline_free(tp);
  del(cache, "t15:rb");
  nc_cache_free(cache);
}

static void test_pipelines(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_pipeline *p = NULL;
  nc_replies *rs = NULL;
  const nc_reply *e = NULL;
  nc_value *v = NULL;
  const char *keys[] = {"t15:pa", "t15:pb", "t15:pn", "t15:ph"};
  for (size_t k = 0; k < 4; k++) del(cache, keys[k]);
  run(cache, A(3, "SET", "t15:pa", "A"));
  run(cache, A(4, "HSET", "t15:ph", "f", "F"));
  CHECK_STATUS(nc_cache_get(cache, S("t15:pa"), &v), NC_OK); /* L1 holds both */
  nc_value_free(v);
  CHECK_STATUS(nc_cache_hget(cache, S("t15:ph"), S("f"), &v), NC_OK);
  nc_value_free(v);
  long long hits = stat(cache, "l1_hits"), read_hits = stat(cache, "l1_read_hits");

  CHECK_STATUS(nc_pipeline_new(cache, false, &p), NC_OK);
  args_t cmds[] = {A(2, "GET", "t15:pa"),       A(3, "HGET", "t15:ph", "f"), A(3, "SET", "t15:pb", "B"),
                   A(2, "GET", "t15:pb"),       A(3, "HGET", "t15:pa", "f"), A(2, "INCR", "t15:pn"),
                   A(1, "NOSUCHCOMMAND"),       A(2, "INCR", "t15:pn")};
  size_t ncmds = sizeof cmds / sizeof cmds[0];
  for (size_t k = 0; k < ncmds; k++) CHECK_STATUS(nc_pipeline_add(p, cmds[k].n, cmds[k].p, cmds[k].l), NC_OK);
  CHECK(nc_pipeline_len(p) == ncmds);
  args_t refused = A(1, "MULTI");
  CHECK_STATUS(nc_pipeline_add(p, refused.n, refused.p, refused.l), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("MULTI");
  CHECK_STATUS(nc_pipeline_add(p, 0, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(nc_pipeline_len(p) == ncmds);
  CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK);
  CHECK(nc_pipeline_len(p) == 0);
  CHECK(nc_replies_len(rs) == ncmds);
  CHECK_STATUS(nc_replies_get(rs, 0, &e), NC_OK);
  CHECK(str_is(e, "A"));
  CHECK_STATUS(nc_replies_get(rs, 1, &e), NC_OK);
  CHECK(str_is(e, "F"));
  CHECK_STATUS(nc_replies_get(rs, 2, &e), NC_OK);
  CHECK(nc_reply_get_type(e) == NC_REPLY_STATUS && str_is(e, "OK"));
  CHECK_STATUS(nc_replies_get(rs, 3, &e), NC_OK);
  CHECK(str_is(e, "B"));
  CHECK_STATUS(nc_replies_get(rs, 4, &e), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("WRONGTYPE");
  CHECK(nc_reply_get_type(e) == NC_REPLY_ERROR);
  const uint8_t *data = NULL;
  size_t len = 0;
  CHECK_STATUS(nc_reply_string(e, &data, &len), NC_OK);
  CHECK(len > 9 && memmem(data, len, "WRONGTYPE", 9) != NULL);
  CHECK_STATUS(nc_replies_get(rs, 5, &e), NC_OK);
  CHECK(int_is(e, 1));
  CHECK_STATUS(nc_replies_get(rs, 6, &e), NC_ERR_REDIS);
  CHECK_STATUS(nc_replies_get(rs, 7, &e), NC_OK);
  CHECK(int_is(e, 2));
  e = (const nc_reply *)0x1;
  CHECK_STATUS(nc_replies_get(rs, ncmds, &e), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("out of range");
  CHECK(e == (const nc_reply *)0x1);
  nc_replies_free(rs);
  /* The GET and the HGET L1 held were answered from it; nothing else was. */
  CHECK(stat(cache, "l1_hits") == hits + 1);
  CHECK(stat(cache, "l1_read_hits") == read_hits + 1);
  CHECK_STATUS(nc_cache_get(cache, S("t15:pb"), &v), NC_OK);
  CHECK(value_is(v, "B", 1));
  nc_value_free(v);

  /* Reused; empty. */
  CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK);
  CHECK(nc_replies_len(rs) == 0);
  nc_replies_free(rs);
  nc_pipeline_free(p);

  /* Transactional: the seed example, then an error while running. */
  del(cache, "atomic");
  del(cache, "history");
  CHECK_STATUS(nc_pipeline_new(cache, true, &p), NC_OK);
  args_t seed[] = {A(6, "HSET", "atomic", "name", "Project Manhattan", "location", "Los Alamos"),
                   A(4, "ZADD", "history", "1942", "atomic")};
  for (size_t k = 0; k < 2; k++) CHECK_STATUS(nc_pipeline_add(p, seed[k].n, seed[k].p, seed[k].l), NC_OK);
  CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK);
  CHECK(nc_replies_len(rs) == 2);
  CHECK_STATUS(nc_replies_get(rs, 0, &e), NC_OK);
  CHECK(int_is(e, 2));
  CHECK_STATUS(nc_replies_get(rs, 1, &e), NC_OK);
  CHECK(int_is(e, 1));
  nc_replies_free(rs);
  args_t mixed[] = {A(3, "SET", "t15:pn", "1"), A(2, "INCR", "t15:pn"), A(3, "LPUSH", "t15:pn", "x")};
  for (size_t k = 0; k < 3; k++) CHECK_STATUS(nc_pipeline_add(p, mixed[k].n, mixed[k].p, mixed[k].l), NC_OK);
  CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_OK);
  CHECK_STATUS(nc_replies_get(rs, 1, &e), NC_OK);
  CHECK(int_is(e, 2));
  CHECK_STATUS(nc_replies_get(rs, 2, &e), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("WRONGTYPE");
  nc_replies_free(rs);
  /* A command Redis refuses while queueing fails the whole transaction. */
  args_t bad = A(2, "INCR", "t15:pn"), arity = A(1, "GET");
  CHECK_STATUS(nc_pipeline_add(p, bad.n, bad.p, bad.l), NC_OK);
  CHECK_STATUS(nc_pipeline_add(p, arity.n, arity.p, arity.l), NC_OK);
  rs = (nc_replies *)0x1;
  CHECK_STATUS(nc_pipeline_execute(p, &rs), NC_ERR_REDIS);
  CHECK(rs == (nc_replies *)0x1);
  CHECK_STATUS(nc_cache_get(cache, S("t15:pn"), &v), NC_OK);
  CHECK(value_is(v, "2", 1));
  nc_value_free(v);
  nc_pipeline_free(p);

  /* A queued pipeline freed unsent sends nothing. */
  CHECK_STATUS(nc_pipeline_new(cache, false, &p), NC_OK);
  CHECK_STATUS(nc_pipeline_add(p, bad.n, bad.p, bad.l), NC_OK);
  nc_pipeline_free(p);
  CHECK_STATUS(nc_cache_get(cache, S("t15:pn"), &v), NC_OK);
  CHECK(value_is(v, "2", 1));
  nc_value_free(v);
  for (size_t k = 0; k < 4; k++) del(cache, keys[k]);
  del(cache, "atomic");
  del(cache, "history");
  nc_cache_free(cache);
}

/* --- Transactions --------------------------------------------------------- */

typedef struct {
  const nc_cache *cache;
  const char *key;
  int calls;
  int meddle;            /* change the watched key from outside each attempt */
  nc_status stop_with;   /* return this instead of NC_OK after queueing */
  int free_lent;         /* call nc_transaction_free on the lent handle */
} body_ctx;

/* GET key (immediate), MULTI, SET key n+1 (queued). */
static nc_status increment(nc_transaction *tx, void *user_data) {
  body_ctx *ctx = user_data;
  ctx->calls++;
  if (ctx->free_lent) nc_transaction_free(tx); /* a no-op: the handle is lent */
  nc_reply *r = NULL;
  args_t get = A(2, "GET", ctx->key);
  nc_status st = nc_transaction_command(tx, get.n, get.p, get.l, &r);
  if (st != NC_OK) return st;
  long long n = 0;
  const uint8_t *data = NULL;
  size_t len = 0;
  if (nc_reply_string(r, &data, &len) == NC_OK) {
    char text[32] = "";
    memcpy(text, data, len < 31 ? len : 31);
    n = strtoll(text, NULL, 10);
  }
  nc_reply_free(r);
  if ((st = nc_transaction_multi(tx)) != NC_OK) return st;
  char next[32];
  snprintf(next, sizeof next, "%lld", n + 1);
  args_t set = A(3, "SET", ctx->key, next);
  if ((st = nc_transaction_queue(tx, set.n, set.p, set.l)) != NC_OK) return st;
  if (ctx->meddle) run(ctx->cache, A(3, "SET", ctx->key, "meddled"));
  return ctx->stop_with;
}

typedef struct {
  const nc_cache *cache;
  int failures;
  int attempts;
} worker_ctx;

static void *worker(void *arg) {
  worker_ctx *w = arg;
  args_t key = A(1, "t15:counter");
  for (int i = 0; i < 250; i++) {
    body_ctx ctx = {w->cache, "t15:counter", 0, 0, NC_OK, 0};
    nc_replies *rs = NULL;
    if (nc_cache_transaction(w->cache, 1, key.p, key.l, increment, &ctx, &rs) != NC_OK) w->failures++;
    w->attempts += ctx.calls;
    nc_replies_free(rs);
  }
  return NULL;
}

static void test_concurrent_transactions(void) {
  /* Enough retries that four contending workers never run out. */
  nc_cache *cache = open_with(NULL, "10000");
  del(cache, "t15:counter");
  pthread_t threads[4];
  worker_ctx ctx[4];
  for (int i = 0; i < 4; i++) {
    ctx[i] = (worker_ctx){cache, 0, 0};
    CHECK(pthread_create(&threads[i], NULL, worker, &ctx[i]) == 0);
  }
  int attempts = 0, failures = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    attempts += ctx[i].attempts;
    failures += ctx[i].failures;
  }
  nc_value *v = NULL;
  CHECK(failures == 0);
  CHECK_STATUS(nc_cache_get(cache, S("t15:counter"), &v), NC_OK);
  CHECK(value_is(v, "1000", 4));
  printf("  4 x 250 WATCH-guarded increments: %d attempts for 1000 commits\n", attempts);
  nc_value_free(v);
  del(cache, "t15:counter");
  nc_cache_free(cache);
}

static void test_transactions(void) {
  nc_cache *cache = open_with("ttl", "2");
  nc_transaction *tx = NULL;
  nc_replies *rs = NULL;
  nc_reply *r = NULL;
  nc_value *v = NULL;
  const nc_reply *e = NULL;
  args_t key = A(1, "t15:tk");
  del(cache, "t15:tk");

  /* Retry exhaustion: 1 run + redis.transaction_retries (2) more. */
  body_ctx ctx = {cache, "t15:tk", 0, 1, NC_OK, 0};
  rs = (nc_replies *)0x1;
  CHECK_STATUS(nc_cache_transaction(cache, 1, key.p, key.l, increment, &ctx, &rs), NC_ERR_TRANSACTION_ABORTED);
  CHECK_MESSAGE_HAS("transaction_retries");
  CHECK(strcmp(nc_status_code(NC_ERR_TRANSACTION_ABORTED), "NC_TRANSACTION_ABORTED") == 0);
  CHECK(ctx.calls == 3);
  CHECK(rs == (nc_replies *)0x1);

  /* Success, with the lent handle "freed" inside the body (a no-op that
   * ASan would flag otherwise). */
  run(cache, A(3, "SET", "t15:tk", "41"));
  ctx = (body_ctx){cache, "t15:tk", 0, 0, NC_OK, 1};
  CHECK_STATUS(nc_cache_transaction(cache, 1, key.p, key.l, increment, &ctx, &rs), NC_OK);
  CHECK(ctx.calls == 1 && nc_replies_len(rs) == 1);
  CHECK_STATUS(nc_replies_get(rs, 0, &e), NC_OK);
  CHECK(str_is(e, "OK"));
  nc_replies_free(rs);
  CHECK_STATUS(nc_cache_get(cache, S("t15:tk"), &v), NC_OK);
  CHECK(value_is(v, "42", 2));
  nc_value_free(v);

  /* The body's own status ends it: nothing executed, no retry. */
  ctx = (body_ctx){cache, "t15:tk", 0, 0, NC_NOT_FOUND, 0};
  CHECK_STATUS(nc_cache_transaction(cache, 1, key.p, key.l, increment, &ctx, &rs), NC_NOT_FOUND);
  CHECK(ctx.calls == 1);
  CHECK_STATUS(nc_cache_get(cache, S("t15:tk"), &v), NC_OK);
  CHECK(value_is(v, "42", 2));
  nc_value_free(v);
  /* A failed call inside the body, passed on: its status and message. */
  run(cache, A(4, "HSET", "t15:th", "f", "v"));
  ctx = (body_ctx){cache, "t15:th", 0, 0, NC_OK, 0};
  args_t hkey = A(1, "t15:th");
  CHECK_STATUS(nc_cache_transaction(cache, 1, hkey.p, hkey.l, increment, &ctx, &rs), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("WRONGTYPE");
  del(cache, "t15:th");

  /* By hand: WATCH, a change from outside, EXEC aborted. */
  CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("t15:tk"), S("100"), 0, 0), NC_OK);
  args_t incr = A(2, "INCR", "t15:tk");
  CHECK_STATUS(nc_transaction_multi(tx), NC_OK);
  CHECK_STATUS(nc_transaction_multi(tx), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_command(tx, incr.n, incr.p, incr.l, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("after multi()");
  CHECK_STATUS(nc_transaction_queue(tx, incr.n, incr.p, incr.l), NC_OK);
  rs = (nc_replies *)0x1;
  CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_ERR_TRANSACTION_ABORTED);
  CHECK(rs == (nc_replies *)0x1);
  CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("already finished");
  nc_transaction_free(tx);
  CHECK_STATUS(nc_cache_get(cache, S("t15:tk"), &v), NC_OK);
  CHECK(value_is(v, "100", 3));
  nc_value_free(v);

  /* By hand, reads never from L1: L1 holds "100", Redis has another value. */
  nc_cache *other = open_with("ttl", NULL);
  CHECK_STATUS(nc_cache_set(other, S("t15:tk"), S("7"), 0, 0), NC_OK);
  CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
  args_t get = A(2, "GET", "t15:tk");
  CHECK_STATUS(nc_transaction_command(tx, get.n, get.p, get.l, &r), NC_OK);
  CHECK(str_is(r, "7"));
  nc_reply_free(r);
  CHECK_STATUS(nc_transaction_queue(tx, incr.n, incr.p, incr.l), NC_OK);
  args_t refused = A(2, "SUBSCRIBE", "c");
  CHECK_STATUS(nc_transaction_queue(tx, refused.n, refused.p, refused.l), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_OK);
  CHECK(nc_replies_len(rs) == 1);
  CHECK_STATUS(nc_replies_get(rs, 0, &e), NC_OK);
  CHECK(int_is(e, 8));
  nc_replies_free(rs);
  nc_transaction_free(tx);
  CHECK_STATUS(nc_cache_get(cache, S("t15:tk"), &v), NC_OK); /* the own write dropped "100" */
  CHECK(value_is(v, "8", 1));
  nc_value_free(v);

  /* Freed while watching and queued: reset, nothing sent; reset then free. */
  CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
  CHECK_STATUS(nc_transaction_queue(tx, incr.n, incr.p, incr.l), NC_OK);
  nc_transaction_free(tx);
  CHECK_STATUS(nc_transaction_watch(cache, 1, key.p, key.l, &tx), NC_OK);
  CHECK_STATUS(nc_transaction_queue(tx, incr.n, incr.p, incr.l), NC_OK);
  CHECK_STATUS(nc_transaction_reset(tx), NC_OK);
  CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_ERR_INVALID_ARGUMENT);
  nc_transaction_free(tx);
  CHECK_STATUS(nc_cache_get(cache, S("t15:tk"), &v), NC_OK);
  CHECK(value_is(v, "8", 1));
  nc_value_free(v);

  /* A transaction outlives its cache's handle: calls then say closed. */
  CHECK_STATUS(nc_transaction_watch(other, 1, key.p, key.l, &tx), NC_OK);
  nc_cache_free(other);
  CHECK_STATUS(nc_transaction_exec(tx, &rs), NC_ERR_CLOSED);
  nc_transaction_free(tx);
  del(cache, "t15:tk");
  nc_cache_free(cache);
}

static void test_scripts(void) {
  nc_cache *cache = open_with("ttl", NULL);
  nc_script *script = NULL, *echo = NULL, *failing = NULL;
  nc_reply *r = NULL;
  nc_value *v = NULL;
  args_t key = A(1, "t15:sk");
  del(cache, "t15:sk");

  CHECK_STATUS(nc_script_new(cache, S("return redis.call('GET', KEYS[1])"), &script), NC_OK);
  /* SHA1 of the source, as Redis's SCRIPT LOAD computes it. */
  CHECK(strlen(nc_script_sha1(script)) == 40);
  nc_reply *loaded = NULL;
  args_t load = A(3, "SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])");
  CHECK_STATUS(nc_cache_command(cache, load.n, load.p, load.l, &loaded), NC_OK);
  CHECK(str_is(loaded, nc_script_sha1(script)));
  nc_reply_free(loaded);

  CHECK_STATUS(nc_cache_set(cache, S("t15:sk"), S("v1"), 0, 0), NC_OK);
  CHECK_STATUS(nc_script_call(script, 1, key.p, key.l, 0, NULL, NULL, &r), NC_OK);
  CHECK(str_is(r, "v1"));
  nc_reply_free(r);
  /* NOSCRIPT after a flush: EVAL instead, same answer. */
  run(cache, A(2, "SCRIPT", "FLUSH"));
  CHECK_STATUS(nc_script_call(script, 1, key.p, key.l, 0, NULL, NULL, &r), NC_OK);
  CHECK(str_is(r, "v1"));
  nc_reply_free(r);

  CHECK_STATUS(nc_script_new(cache, S("return {KEYS[1], ARGV[1], 7}"), &echo), NC_OK);
  args_t arg = A(1, "b");
  CHECK_STATUS(nc_script_call(echo, 1, key.p, key.l, 1, arg.p, arg.l, &r), NC_OK);
  CHECK(nc_reply_len(r) == 3 && str_is(at(r, 0), "t15:sk") && str_is(at(r, 1), "b") && int_is(at(r, 2), 7));
  nc_reply_free(r);

  CHECK_STATUS(nc_script_new(cache, S("return redis.call('INCR', KEYS[1])"), &failing), NC_OK);
  r = (nc_reply *)0x1;
  CHECK_STATUS(nc_script_call(failing, 1, key.p, key.l, 0, NULL, NULL, &r), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("not an integer");
  CHECK(r == (nc_reply *)0x1);
  CHECK_STATUS(nc_script_call(failing, 1, NULL, key.l, 0, NULL, NULL, &r), NC_ERR_INVALID_ARGUMENT);

  /* A script outlives its cache's handle: calls then say closed. */
  nc_cache_free(cache);
  CHECK_STATUS(nc_script_call(echo, 1, key.p, key.l, 1, arg.p, arg.l, &r), NC_ERR_CLOSED);
  (void)v;
  nc_script_free(script);
  nc_script_free(echo);
  nc_script_free(failing);
  nc_cache *cleanup = open_with(NULL, NULL);
  del(cleanup, "t15:sk");
  nc_cache_free(cleanup);
}

int main(void) {
  url = env_or_die("NC_TEST_URL");
  RUN(test_typed_reads);
  RUN(test_generic_read);
  RUN(test_typed_writes);
  RUN(test_null_arguments);
  RUN(test_write_read_back);
  RUN(test_pipelines);
  RUN(test_transactions);
  RUN(test_concurrent_transactions);
  RUN(test_scripts);
  return harness_exit("test_commands");
}
