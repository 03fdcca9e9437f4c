/*
 * The C side of the interop and consistency runs (driven by run.py); same
 * protocol as interop.py:
 *   interop write URL PREFIX CASES
 *   interop read URL CASES PREFIX...
 *   interop watch URL KEYPREFIX NKEYS SECONDS MAXREADS OUT [path=value...]
 */
#define _GNU_SOURCE /* getline */
#include <nearcache.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  char name[128];
  char algorithm[16];
  char min_size[32];
  uint8_t *value;
  size_t len;
} interop_case;

static void die(const char *what, int status) {
  fprintf(stderr, "c interop: %s: %s (%s)\n", what, nc_status_code(status), nc_last_error());
  exit(1);
}

static int nibble(char h) { return h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10; }

static size_t load_cases(const char *path, interop_case **out) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  size_t n = 0, cap = 0;
  interop_case *cases = NULL;
  char *line = NULL;
  size_t line_cap = 0;
  while (getline(&line, &line_cap, f) > 0) {
    char *name = strtok(line, " \n"), *algorithm = strtok(NULL, " \n"), *min_size = strtok(NULL, " \n"),
         *hex = strtok(NULL, " \n");
    if (hex == NULL) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      cases = realloc(cases, cap * sizeof *cases);
    }
    interop_case *c = &cases[n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->algorithm, sizeof c->algorithm, "%s", algorithm);
    snprintf(c->min_size, sizeof c->min_size, "%s", min_size);
    c->len = strcmp(hex, "-") == 0 ? 0 : strlen(hex) / 2;
    c->value = malloc(c->len + 1);
    for (size_t i = 0; i < c->len; i++) c->value[i] = (uint8_t)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  free(line);
  fclose(f);
  *out = cases;
  return n;
}

static nc_cache *open_cache(const char *url, char **settings, int nsettings) {
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  int st;
  if ((st = nc_config_new(&cfg)) != NC_OK) die("nc_config_new", st);
  if ((st = nc_config_set(cfg, "url", url)) != NC_OK) die("url", st);
  for (int i = 0; i < nsettings; i++) {
    char *eq = strchr(settings[i], '=');
    if (eq == NULL) die(settings[i], NC_ERR_INVALID_ARGUMENT);
    *eq = '\0';
    if ((st = nc_config_set(cfg, settings[i], eq + 1)) != NC_OK) die(settings[i], st);
  }
  if ((st = nc_cache_open(cfg, &cache)) != NC_OK) die("nc_cache_open", st);
  nc_config_free(cfg);
  return cache;
}

static int do_write(const char *url, const char *prefix, const char *cases_path) {
  interop_case *cases = NULL;
  size_t n = load_cases(cases_path, &cases);
  for (size_t i = 0; i < n; i++) {
    char algorithm[64], min_size[64];
    snprintf(algorithm, sizeof algorithm, "compression.algorithm=%s", cases[i].algorithm);
    snprintf(min_size, sizeof min_size, "compression.min_size=%s", cases[i].min_size);
    char *settings[] = {algorithm, min_size};
    /* One cache per case keeps this simple; opening one is cheap. */
    nc_cache *cache = open_cache(url, settings, 2);
    char key[256];
    int klen = snprintf(key, sizeof key, "%s%s", prefix, cases[i].name);
    int st = nc_cache_set(cache, (const uint8_t *)key, (size_t)klen, cases[i].value, cases[i].len, 0, 0);
    if (st != NC_OK) die(key, st);
    nc_cache_free(cache);
    free(cases[i].value);
  }
  free(cases);
  return 0;
}

static int matches(nc_cache *cache, const char *key, const interop_case *c, const char *round) {
  nc_value *v = NULL;
  int st = nc_cache_get(cache, (const uint8_t *)key, strlen(key), &v);
  int ok = st == NC_OK && nc_value_len(v) == c->len && (c->len == 0 || memcmp(nc_value_data(v), c->value, c->len) == 0);
  if (!ok) {
    printf("c read %s (%s): status %s, got %zu bytes, want %zu\n", key, round, nc_status_code(st),
           st == NC_OK ? nc_value_len(v) : (size_t)0, c->len);
  }
  nc_value_free(v);
  return ok;
}

static int do_read(const char *url, const char *cases_path, char **prefixes, int nprefixes) {
  interop_case *cases = NULL;
  size_t n = load_cases(cases_path, &cases);
  nc_cache *cache = open_cache(url, NULL, 0);
  int failures = 0;
  for (int p = 0; p < nprefixes; p++) {
    for (int round = 0; round < 2; round++) {
      for (size_t i = 0; i < n; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", prefixes[p], cases[i].name);
        failures += !matches(cache, key, &cases[i], round ? "hit" : "miss");
      }
    }
  }
  nc_cache_free(cache);
  for (size_t i = 0; i < n; i++) free(cases[i].value);
  free(cases);
  printf("c reader: %zu keys, %d mismatches\n", n * (size_t)nprefixes, failures);
  return failures ? 1 : 0;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int do_watch(const char *url, const char *keyprefix, int nkeys, double seconds, long maxreads, const char *out,
                    char **settings, int nsettings) {
  nc_cache *cache = open_cache(url, settings, nsettings);
  int st = nc_cache_connect(cache);
  if (st != NC_OK) die("nc_cache_connect", st);
  printf("ready\n");
  fflush(stdout);
  char go[16];
  if (fgets(go, sizeof go, stdin) == NULL) return 1;
  FILE *f = fopen(out, "w");
  if (f == NULL) {
    perror(out);
    return 1;
  }
  long reads = 0, errors = 0;
  int64_t deadline = now_ns() + (int64_t)(seconds * 1e9);
  struct timespec pause = {0, 1000000};
  while (now_ns() < deadline && reads < maxreads) {
    for (int i = 0; i < nkeys; i++) {
      char key[256];
      int klen = snprintf(key, sizeof key, "%s%d", keyprefix, i);
      int64_t started = now_ns();
      nc_value *v = NULL;
      st = nc_cache_get(cache, (const uint8_t *)key, (size_t)klen, &v);
      if (st == NC_OK || st == NC_NOT_FOUND) {
        char text[32] = "0";
        if (st == NC_OK) {
          size_t len = nc_value_len(v) < sizeof text - 1 ? nc_value_len(v) : sizeof text - 1;
          memcpy(text, nc_value_data(v), len);
          text[len] = '\0';
        }
        fprintf(f, "%d %s %lld\n", i, text, (long long)started);
        reads++;
      } else {
        errors++;
      }
      nc_value_free(v);
    }
    nanosleep(&pause, NULL);
  }
  fclose(f);
  char *stats = NULL;
  nc_cache_stats_json(cache, &stats);
  const char *hits = stats ? strstr(stats, "\"l1_hits\"") : NULL;
  printf("c watcher: %ld reads, %ld errors, %.24s\n", reads, errors, hits ? hits : "");
  nc_string_free(stats);
  nc_cache_free(cache);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "write") == 0) return do_write(argv[2], argv[3], argv[4]);
  if (argc >= 5 && strcmp(argv[1], "read") == 0) return do_read(argv[2], argv[3], argv + 4, argc - 4);
  if (argc >= 8 && strcmp(argv[1], "watch") == 0)
    return do_watch(argv[2], argv[3], atoi(argv[4]), atof(argv[5]), atol(argv[6]), argv[7], argv + 8, argc - 8);
  fprintf(stderr, "usage: interop write|read|watch ...\n");
  return 2;
}
