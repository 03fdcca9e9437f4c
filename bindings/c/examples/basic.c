/*
 * nearcache from C: open, write, read (zero copy and into a buffer), miss,
 * stats. Build against an installed libnearcache:
 *
 *   cc basic.c $(pkg-config --cflags --libs nearcache) -o basic
 *   ./basic redis://127.0.0.1:6379
 */
#include <stdio.h>
#include <string.h>

#include <nearcache.h>

/* Prints the failed call with its status code and this thread's message. */
static int fail(const char *what, nc_status status) {
  fprintf(stderr, "%s: %s: %s\n", what, nc_status_code((int)status), nc_last_error());
  return 1;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "redis://127.0.0.1:6379";
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  nc_status s;

  /* The same tree as the config file; values are parsed by the core. */
  if ((s = nc_config_new(&cfg)) != NC_OK) return fail("nc_config_new", s);
  nc_config_set(cfg, "url", url);
  nc_config_set(cfg, "l1.max_bytes", "64MiB");
  nc_config_set(cfg, "l1.ttl", "30s");
  s = nc_cache_open(cfg, &cache);
  nc_config_free(cfg); /* the cache keeps what it needs */
  if (s != NC_OK) return fail("nc_cache_open", s);

  const char *key = "example:user:42";
  const char *json = "{\"name\":\"Ada\"}";
  s = nc_cache_set(cache, (const uint8_t *)key, strlen(key), (const uint8_t *)json, strlen(json),
                   300000 /* ttl_ms */, 0);
  if (s != NC_OK) return fail("nc_cache_set", s);

  /* Zero copy: the handle keeps the bytes alive until nc_value_free. */
  for (int i = 0; i < 2; i++) { /* Redis once, then L1 */
    nc_value *value = NULL;
    s = nc_cache_get(cache, (const uint8_t *)key, strlen(key), &value);
    if (s != NC_OK) return fail("nc_cache_get", s);
    printf("get %s -> %.*s\n", key, (int)nc_value_len(value), (const char *)nc_value_data(value));
    nc_value_free(value);
  }

  /* Copy into a caller's buffer; a short buffer reports the size needed. */
  char buf[8];
  size_t needed = 0;
  s = nc_cache_get_into(cache, (const uint8_t *)key, strlen(key), (uint8_t *)buf, sizeof buf, &needed);
  if (s == NC_BUFFER_TOO_SMALL) printf("get_into needs %zu bytes\n", needed);

  /* A miss is NC_NOT_FOUND with a NULL handle, not an error. */
  nc_value *missing = NULL;
  s = nc_cache_get(cache, (const uint8_t *)"example:nobody", 14, &missing);
  printf("get example:nobody -> %s\n", s == NC_NOT_FOUND ? "not found" : nc_status_code((int)s));

  char *stats = NULL;
  if (nc_cache_stats_json(cache, &stats) == NC_OK) {
    printf("stats: %.120s...\n", stats);
    nc_string_free(stats);
  }
  nc_cache_delete(cache, (const uint8_t *)key, strlen(key));
  nc_cache_free(cache);
  return 0;
}
