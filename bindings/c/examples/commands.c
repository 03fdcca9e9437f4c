/*
 * nearcache from C beyond GET: typed writes and cached reads, any read of
 * the allow-list (nc_cache_read, argv form), a pipeline, an optimistic
 * transaction and a script. Build and run as basic.c:
 *
 *   cc commands.c $(pkg-config --cflags --libs nearcache) -o commands
 *   ./commands redis://127.0.0.1:6379
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nearcache.h>

#define MAX_ARGS 8

/* Prints the failed call with its status code and this thread's message. */
static int fail(const char *what, nc_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, nc_status_code((int)status), nc_last_error());
  return 1;
}

/* The argv form (hiredis's): a pointer and a length per argument, so any
 * argument may hold binary data. These examples use C strings. */
typedef struct {
  size_t argc;
  const uint8_t *argv[MAX_ARGS];
  size_t lens[MAX_ARGS];
} args;

static args argv_of(size_t argc, const char *const *words) {
  args a = {argc < MAX_ARGS ? argc : MAX_ARGS, {0}, {0}};
  for (size_t i = 0; i < a.argc; i++) {
    a.argv[i] = (const uint8_t *)words[i];
    a.lens[i] = strlen(words[i]);
  }
  return a;
}

#define KEY(text) (const uint8_t *)(text), strlen(text)

/* The body of nc_cache_transaction: reads the watched counter now, then
 * queues its double. If another client changes the counter before EXEC,
 * nearcache runs the body again (up to redis.transaction_retries times). */
static nc_status double_counter(nc_transaction *tx, void *user_data) {
  (void)user_data;
  args get = argv_of(2, (const char *[]){"GET", "example:counter"});
  nc_reply *reply = NULL;
  nc_status s = nc_transaction_command(tx, get.argc, get.argv, get.lens, &reply);
  if (s != NC_OK) return s;
  const uint8_t *data = NULL;
  size_t len = 0;
  char text[32] = "0", doubled[32];
  if (nc_reply_string(reply, &data, &len) == NC_OK && len < sizeof text) {
    memcpy(text, data, len);
    text[len] = '\0';
  }
  nc_reply_free(reply);
  snprintf(doubled, sizeof doubled, "%lld", 2 * strtoll(text, NULL, 10));
  args set = argv_of(3, (const char *[]){"SET", "example:counter", doubled});
  if ((s = nc_transaction_multi(tx)) != NC_OK) return s;
  return nc_transaction_queue(tx, set.argc, set.argv, set.lens);
}

int main(int argc, char **argv) {
  nc_cache *cache = NULL;
  nc_status s = nc_cache_open_url(argc > 1 ? argv[1] : "redis://127.0.0.1:6379", &cache);
  if (s != NC_OK) return fail("nc_cache_open_url", s);

  /* Typed writes drop the key's cached replies before they are sent. */
  int64_t counter = 0;
  if ((s = nc_cache_incrby(cache, KEY("example:counter"), 20, &counter)) != NC_OK) return fail("incrby", s);
  const uint8_t *members[] = {(const uint8_t *)"ada", (const uint8_t *)"grace"};
  size_t member_lens[] = {3, 5};
  double scores[] = {3, 5};
  if ((s = nc_cache_zadd(cache, KEY("example:board"), 2, members, member_lens, scores, NULL)) != NC_OK)
    return fail("zadd", s);

  /* Typed cached reads: Redis once, then L1 until a write or an invalidation. */
  double score = 0;
  if ((s = nc_cache_zscore(cache, KEY("example:board"), (const uint8_t *)"grace", 5, &score)) != NC_OK)
    return fail("zscore", s);
  printf("zscore grace -> %g\n", score);

  /* Any command of the allow-list, cached the same way; the reply is a tree. */
  args range = argv_of(5, (const char *[]){"ZRANGE", "example:board", "4", "+inf", "BYSCORE"});
  nc_reply *reply = NULL;
  if ((s = nc_cache_read(cache, range.argc, range.argv, range.lens, &reply)) != NC_OK) return fail("read", s);
  for (size_t i = 0; i < nc_reply_len(reply); i++) {
    const nc_reply *member = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;
    nc_reply_element(reply, i, &member);
    nc_reply_string(member, &data, &len);
    printf("read ZRANGE BYSCORE [%zu] -> %.*s\n", i, (int)len, (const char *)data);
  }
  nc_reply_free(reply);

  /* A pipeline: one write to Redis (reads L1 holds are answered from it);
   * each command's error is its own result. */
  nc_pipeline *pipeline = NULL;
  if ((s = nc_pipeline_new(cache, false /* true: MULTI ... EXEC */, &pipeline)) != NC_OK) return fail("pipeline", s);
  args incr = argv_of(2, (const char *[]){"INCR", "example:counter"});
  args wrong = argv_of(2, (const char *[]){"INCR", "example:board"});
  nc_pipeline_add(pipeline, incr.argc, incr.argv, incr.lens);
  nc_pipeline_add(pipeline, wrong.argc, wrong.argv, wrong.lens);
  nc_replies *results = NULL;
  if ((s = nc_pipeline_execute(pipeline, &results)) != NC_OK) return fail("execute", s);
  for (size_t i = 0; i < nc_replies_len(results); i++) {
    const nc_reply *result = NULL;
    int64_t n = 0;
    if (nc_replies_get(results, i, &result) == NC_OK && nc_reply_integer(result, &n) == NC_OK)
      printf("pipeline [%zu] -> %lld\n", i, (long long)n);
    else
      printf("pipeline [%zu] -> error: %s\n", i, nc_last_error());
  }
  nc_replies_free(results);
  nc_pipeline_free(pipeline);

  /* WATCH ... MULTI ... EXEC, retried while another client wins the race;
   * NC_ERR_TRANSACTION_ABORTED once the retries are spent. */
  const uint8_t *watched[] = {(const uint8_t *)"example:counter"};
  size_t watched_lens[] = {15};
  s = nc_cache_transaction(cache, 1, watched, watched_lens, double_counter, NULL, &results);
  if (s != NC_OK) return fail("transaction", s);
  nc_replies_free(results);
  nc_value *value = NULL;
  if ((s = nc_cache_get(cache, KEY("example:counter"), &value)) != NC_OK) return fail("get", s);
  printf("counter -> %.*s\n", (int)nc_value_len(value), (const char *)nc_value_data(value));
  nc_value_free(value);

  /* A script: EVALSHA, with EVAL when the server does not know it yet. Its
   * declared keys are dropped from L1, so reads see what it wrote. */
  const char *lua = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
  nc_script *script = NULL;
  if ((s = nc_script_new(cache, (const uint8_t *)lua, strlen(lua), &script)) != NC_OK) return fail("script", s);
  args by = argv_of(1, (const char *[]){"100"});
  if ((s = nc_script_call(script, 1, watched, watched_lens, by.argc, by.argv, by.lens, &reply)) != NC_OK)
    return fail("script call", s);
  nc_reply_integer(reply, &counter);
  printf("script -> %lld\n", (long long)counter);
  nc_reply_free(reply);
  nc_script_free(script);

  nc_cache_delete(cache, KEY("example:counter"));
  nc_cache_delete(cache, KEY("example:board"));
  nc_cache_free(cache);
  return 0;
}
