/*
 * The C side of bench/run.sh. Prints `name value` lines:
 *   c_l1_hit_get_ns       nc_cache_get + nc_value_free on a hot key (zero copy)
 *   c_l1_hit_get_into_ns  nc_cache_get_into a caller's buffer (one copy)
 *   c_miss_1t_ops         gets answered by Redis (l1.invalidation = "off"), one thread
 *   c_miss_8t_ops         the same from 8 threads sharing the cache
 * Workload (identical in bench_rust.rs): 1000 keys "user:%08d" of 1 KiB,
 * visited in a fixed pseudo-random order; median of 5 runs.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nearcache.h>

#define KEYS 1000
#define VALUE_LEN 1024
#define ORDER (1 << 16)
#define HIT_ITERS 2000000
#define MISS_ITERS 5000
#define MISS_THREADS 8
#define RUNS 5

static char keys[KEYS][16];
static size_t key_lens[KEYS];
static uint32_t order[ORDER];

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, nc_status s) {
  fprintf(stderr, "%s: %s: %s\n", what, nc_status_code((int)s), nc_last_error());
  exit(1);
}

static nc_cache *open_cache(const char *url, const char *invalidation) {
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  nc_status s;
  if ((s = nc_config_new(&cfg)) != NC_OK) die("config", s);
  nc_config_set(cfg, "url", url);
  nc_config_set(cfg, "l1.invalidation", invalidation);
  if ((s = nc_cache_open(cfg, &cache)) != NC_OK) die("open", s);
  nc_config_free(cfg);
  return cache;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v) {
  qsort(v, RUNS, sizeof v[0], cmp_double);
  return v[RUNS / 2];
}

static nc_cache *miss_cache;

static void *miss_worker(void *arg) {
  uintptr_t t = (uintptr_t)arg;
  for (int i = 0; i < MISS_ITERS; i++) {
    uint32_t k = order[(t * 7919 + (uintptr_t)i) & (ORDER - 1)];
    nc_value *v = NULL;
    nc_status s = nc_cache_get(miss_cache, (const uint8_t *)keys[k], key_lens[k], &v);
    if (s != NC_OK) die("miss get", s);
    nc_value_free(v);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench URL\n");
    return 2;
  }
  const char *url = argv[1];
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < ORDER; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    order[i] = (uint32_t)(x % KEYS);
  }
  uint8_t *value = malloc(VALUE_LEN);
  for (int i = 0; i < VALUE_LEN; i++) value[i] = (uint8_t)(i * 31 + 7);
  nc_cache *cache = open_cache(url, "tracking");
  for (int i = 0; i < KEYS; i++) {
    key_lens[i] = (size_t)snprintf(keys[i], sizeof keys[i], "user:%08d", i);
    nc_status s = nc_cache_set(cache, (const uint8_t *)keys[i], key_lens[i], value, VALUE_LEN, 0, 0);
    if (s != NC_OK) die("set", s);
    nc_value *v = NULL;
    if ((s = nc_cache_get(cache, (const uint8_t *)keys[i], key_lens[i], &v)) != NC_OK) die("warm", s);
    nc_value_free(v);
  }

  double get_ns[RUNS], into_ns[RUNS], miss1[RUNS], miss8[RUNS];
  uint8_t buf[2 * VALUE_LEN];
  size_t sink = 0;
  for (int run = 0; run < RUNS; run++) {
    double t0 = now_ns();
    for (int i = 0; i < HIT_ITERS; i++) {
      uint32_t k = order[i & (ORDER - 1)];
      nc_value *v = NULL;
      if (nc_cache_get(cache, (const uint8_t *)keys[k], key_lens[k], &v) != NC_OK) die("hit", NC_ERR_INTERNAL);
      sink += nc_value_len(v);
      nc_value_free(v);
    }
    get_ns[run] = (now_ns() - t0) / HIT_ITERS;
    t0 = now_ns();
    for (int i = 0; i < HIT_ITERS; i++) {
      uint32_t k = order[i & (ORDER - 1)];
      size_t needed = 0;
      if (nc_cache_get_into(cache, (const uint8_t *)keys[k], key_lens[k], buf, sizeof buf, &needed) != NC_OK) {
        die("hit into", NC_ERR_INTERNAL);
      }
      sink += needed;
    }
    into_ns[run] = (now_ns() - t0) / HIT_ITERS;
  }

  miss_cache = open_cache(url, "off");
  miss_worker((void *)0); /* connect and warm up */
  for (int run = 0; run < RUNS; run++) {
    double t0 = now_ns();
    miss_worker((void *)1);
    miss1[run] = MISS_ITERS / ((now_ns() - t0) / 1e9);
    pthread_t threads[MISS_THREADS];
    t0 = now_ns();
    for (uintptr_t t = 0; t < MISS_THREADS; t++) pthread_create(&threads[t], NULL, miss_worker, (void *)t);
    for (int t = 0; t < MISS_THREADS; t++) pthread_join(threads[t], NULL);
    miss8[run] = (double)MISS_ITERS * MISS_THREADS / ((now_ns() - t0) / 1e9);
  }
  printf("c_l1_hit_get_ns %.1f\n", median(get_ns));
  printf("c_l1_hit_get_into_ns %.1f\n", median(into_ns));
  printf("c_miss_1t_ops %.0f\n", median(miss1));
  printf("c_miss_8t_ops %.0f\n", median(miss8));
  fprintf(stderr, "(checksum %zu)\n", sink);
  nc_cache_free(miss_cache);
  nc_cache_free(cache);
  free(value);
  return 0;
}
