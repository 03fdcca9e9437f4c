/*
 * Smoke test of the C release tarball (scripts/dist/test.sh), built with
 * `cc smoke.c $(pkg-config --cflags --libs nearcache)`: ./smoke URL VERSION.
 * get/set, invalidation of an L1 entry by a write from outside (redis-cli),
 * and typed errors, against a launched redis-server.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nearcache.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static int fail(const char *what, nc_status status) {
  fprintf(stderr, "c: %s: %s: %s\n", what, nc_status_code((int)status), nc_last_error());
  return 1;
}

/* 1 when key's value is expect (read through the cache). */
static int value_is(nc_cache *cache, const char *key, const char *expect) {
  nc_value *v = NULL;
  nc_status s = nc_cache_get(cache, (const uint8_t *)key, strlen(key), &v);
  int same = s == NC_OK && nc_value_len(v) == strlen(expect) && memcmp(nc_value_data(v), expect, strlen(expect)) == 0;
  nc_value_free(v);
  return same;
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: smoke URL VERSION\n"), 2;
  const char *url = argv[1], *version = argv[2];
  const char *header = STR(NC_VERSION_MAJOR) "." STR(NC_VERSION_MINOR) "." STR(NC_VERSION_PATCH);
  if (strcmp(nc_version(), version) != 0 || strcmp(header, version) != 0) {
    fprintf(stderr, "c: nc_version() %s, header %s, expected %s\n", nc_version(), header, version);
    return 1;
  }

  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  nc_status s;
  if ((s = nc_config_new(&cfg)) != NC_OK) return fail("nc_config_new", s);
  nc_config_set(cfg, "url", url);
  s = nc_cache_open(cfg, &cache);
  nc_config_free(cfg);
  if (s != NC_OK) return fail("nc_cache_open", s);

  const char *key = "smoke:c";
  if ((s = nc_cache_set(cache, (const uint8_t *)key, strlen(key), (const uint8_t *)"one", 3, 0, 0)) != NC_OK)
    return fail("nc_cache_set", s);
  if (!value_is(cache, key, "one")) return fprintf(stderr, "c: get after set is not 'one'\n"), 1;
  nc_value *missing = NULL;
  if ((s = nc_cache_get(cache, (const uint8_t *)"smoke:missing", 13, &missing)) != NC_NOT_FOUND || missing)
    return fprintf(stderr, "c: a missing key gave %s\n", nc_status_code((int)s)), 1;

  /* A write from outside nearcache: Redis invalidates the L1 copy. */
  char cmd[512];
  snprintf(cmd, sizeof cmd, "redis-cli -u '%s' SET smoke:c two >/dev/null", url);
  if (system(cmd) != 0) return fprintf(stderr, "c: %s failed\n", cmd), 1;
  int seen = 0;
  for (int i = 0; i < 500 && !seen; i++) { /* 5 s */
    seen = value_is(cache, key, "two");
    if (!seen) nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
  }
  if (!seen) return fprintf(stderr, "c: L1 still serves the old value 5 s after an outside write\n"), 1;

  /* Errors: a bad config value, a NULL key. */
  nc_cache *bad = NULL;
  nc_config_new(&cfg);
  nc_config_set(cfg, "url", url);
  nc_config_set(cfg, "l1.max_bytes", "lots");
  s = nc_cache_open(cfg, &bad);
  nc_config_free(cfg);
  if (s != NC_ERR_CONFIG || bad) return fprintf(stderr, "c: a bad l1.max_bytes gave %s\n", nc_status_code((int)s)), 1;
  if ((s = nc_cache_get(cache, NULL, 3, &missing)) != NC_ERR_INVALID_ARGUMENT)
    return fprintf(stderr, "c: a NULL key gave %s\n", nc_status_code((int)s)), 1;

  nc_cache_free(cache);
  printf("c: libnearcache %s: get/set, invalidation, errors ok\n", nc_version());
  return 0;
}
