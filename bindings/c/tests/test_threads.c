/*
 * One nc_cache shared by 8 pthreads without any locking of ours: each thread
 * writes and reads its own keys, reads a shared hot key (the L1 hit path),
 * uses get_many and get_into, and checks that its error messages are its
 * own (nc_last_error is per thread). Then one thread closes the cache while
 * the others are still calling: they must see NC_OK or NC_ERR_CLOSED,
 * never a crash.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "harness.h"

#define THREADS 8
#define ROUNDS 400

static nc_cache *cache;
static atomic_int failures;
static atomic_int checks;
static atomic_int rounds_done;
static atomic_int stop_after_close;

#define T_CHECK(cond)                                                            \
  do {                                                                           \
    atomic_fetch_add(&checks, 1);                                                \
    if (!(cond)) {                                                               \
      atomic_fetch_add(&failures, 1);                                            \
      fprintf(stderr, "thread %d: %s:%d: %s (%s)\n", id, __FILE__, __LINE__,     \
              #cond, nc_last_error());                                           \
    }                                                                            \
  } while (0)

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  char key[64], other[64], value[64], strkey[64];
  uint8_t buf[64];
  size_t needed = 0;
  nc_value *v = NULL;
  snprintf(strkey, sizeof strkey, "thr:string:%d", id);
  T_CHECK(nc_cache_set(cache, (const uint8_t *)strkey, strlen(strkey), (const uint8_t *)"s", 1, 0, 0) == NC_OK);
  for (int round = 0; round < ROUNDS; round++) {
    snprintf(key, sizeof key, "thr:%d:%d", id, round % 16);
    snprintf(other, sizeof other, "thr:%d:%d", id, (round + 1) % 16);
    int n = snprintf(value, sizeof value, "value-%d-%d", id, round);
    T_CHECK(nc_cache_set(cache, (const uint8_t *)key, strlen(key), (const uint8_t *)value, (size_t)n, 60000, 0) == NC_OK);
    T_CHECK(nc_cache_get(cache, (const uint8_t *)key, strlen(key), &v) == NC_OK);
    T_CHECK(value_is(v, value, (size_t)n));
    nc_value_free(v);
    T_CHECK(nc_cache_get_into(cache, (const uint8_t *)key, strlen(key), buf, sizeof buf, &needed) == NC_OK);
    T_CHECK(needed == (size_t)n && memcmp(buf, value, (size_t)n) == 0);
    /* The shared hot key, mostly from L1. */
    for (int i = 0; i < 20; i++) {
      T_CHECK(nc_cache_get(cache, S("thr:hot"), &v) == NC_OK);
      T_CHECK(value_is(v, "hot-value", 9));
      nc_value_free(v);
    }
    const uint8_t *keys[] = {(const uint8_t *)key, (const uint8_t *)"thr:hot", (const uint8_t *)"thr:none"};
    size_t lens[] = {strlen(key), 7, 8};
    nc_value *many[3] = {NULL, NULL, NULL};
    T_CHECK(nc_cache_get_many(cache, 3, keys, lens, many) == NC_OK);
    T_CHECK(value_is(many[0], value, (size_t)n));
    T_CHECK(value_is(many[1], "hot-value", 9));
    T_CHECK(many[2] == NULL);
    for (int i = 0; i < 3; i++) nc_value_free(many[i]);
    if (round % 8 == 0) {
      nc_cache_delete(cache, (const uint8_t *)other, strlen(other));
    }
    /* This thread's error message names this thread's key. */
    if (round % 50 == 0) {
      T_CHECK(nc_cache_hget(cache, (const uint8_t *)strkey, strlen(strkey), S("f"), &v) == NC_ERR_REDIS);
      T_CHECK(strstr(nc_last_error(), strkey) != NULL);
    }
  }
  atomic_fetch_add(&rounds_done, 1);
  /* Keep calling until the cache is closed under us. */
  while (!atomic_load(&stop_after_close)) {
    nc_status s = nc_cache_get(cache, S("thr:hot"), &v);
    T_CHECK(s == NC_OK || s == NC_ERR_CLOSED);
    if (s == NC_OK) nc_value_free(v);
    s = nc_cache_set(cache, (const uint8_t *)key, strlen(key), S("x"), 0, 0);
    T_CHECK(s == NC_OK || s == NC_ERR_CLOSED);
    if (s == NC_ERR_CLOSED) break;
  }
  return NULL;
}

int main(void) {
  const char *url = env_or_die("NC_TEST_URL");
  CHECK_STATUS(nc_cache_open_url(url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("thr:hot"), S("hot-value"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_delete(cache, S("thr:none")), NC_NOT_FOUND);
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) == 0);
  }
  /* Close while the workers still call (each is past its checked rounds). */
  while (atomic_load(&rounds_done) < THREADS) sched_yield();
  CHECK_STATUS(nc_cache_close(cache), NC_OK);
  atomic_store(&stop_after_close, 1);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
  }
  CHECK(atomic_load(&failures) == 0);
  h_tests = 1;
  h_checks += atomic_load(&checks);
  char *stats = NULL;
  CHECK_STATUS(nc_cache_stats_json(cache, &stats), NC_OK);
  printf("stats after %d threads: %.200s...\n", THREADS, stats ? stats : "");
  nc_string_free(stats);
  nc_cache_free(cache);
  return harness_exit("test_threads");
}
