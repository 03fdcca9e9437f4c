/*
 * The compression frame vectors (tests/vectors/frames.json, converted to one
 * line per case by vectors_to_text.py into $NC_TEST_VECTORS), through the C
 * API against a real server:
 *   - read: the stored bytes are written raw (nc_cache_command SET) and read
 *     back through nc_cache_get: the original value, or NC_ERR_CODEC;
 *   - write: encode cases are written with nc_cache_set by a cache with the
 *     case's compression config, and the raw bytes in Redis (GET through
 *     nc_cache_command) must be the pinned frame, byte for byte, so values
 *     written from C read identically in every language.
 */
#define _GNU_SOURCE /* getline */
#include "harness.h"

static const char *url;

static uint8_t *from_hex(const char *hex, size_t *len) {
  if (strcmp(hex, "-") == 0) {
    *len = 0;
    return calloc(1, 1);
  }
  size_t n = strlen(hex) / 2;
  uint8_t *out = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned byte = 0;
    sscanf(hex + 2 * i, "%2x", &byte);
    out[i] = (uint8_t)byte;
  }
  *len = n;
  return out;
}

static nc_cache *open_with(const char *algorithm, const char *min_size, const char *level) {
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", url), NC_OK);
  if (algorithm != NULL) {
    CHECK_STATUS(nc_config_set(cfg, "compression.algorithm", algorithm), NC_OK);
    CHECK_STATUS(nc_config_set(cfg, "compression.min_size", min_size), NC_OK);
    CHECK_STATUS(nc_config_set(cfg, "compression.level", level), NC_OK);
  }
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_OK);
  nc_config_free(cfg);
  return cache;
}

static void raw_set(nc_cache *cache, const char *key, const uint8_t *data, size_t len) {
  const uint8_t *argv[] = {(const uint8_t *)"SET", (const uint8_t *)key, data};
  size_t lens[] = {3, strlen(key), len};
  nc_reply *reply = NULL;
  CHECK_STATUS(nc_cache_command(cache, 3, argv, lens, &reply), NC_OK);
  nc_reply_free(reply);
}

/* The raw bytes stored at `key` equal (data, len). */
static int raw_is(nc_cache *cache, const char *key, const uint8_t *data, size_t len) {
  const uint8_t *argv[] = {(const uint8_t *)"GET", (const uint8_t *)key};
  size_t lens[] = {3, strlen(key)};
  nc_reply *reply = NULL;
  const uint8_t *got = NULL;
  size_t got_len = 0;
  int same = nc_cache_command(cache, 2, argv, lens, &reply) == NC_OK &&
             nc_reply_string(reply, &got, &got_len) == NC_OK && got_len == len &&
             (len == 0 || memcmp(got, data, len) == 0);
  nc_reply_free(reply);
  return same;
}

static int cases;

static void check_case(nc_cache *reader, char *line) {
  char *fields[8] = {0};
  int n = 0;
  for (char *tok = strtok(line, " \n"); tok != NULL && n < 8; tok = strtok(NULL, " \n")) fields[n++] = tok;
  if (n == 0) return;
  char key[160];
  snprintf(key, sizeof key, "vec:%s", fields[1]);
  size_t stored_len = 0, want_len = 0;
  nc_value *v = NULL;
  cases++;
  if (fields[0][0] == 'E' && n == 7) {
    uint8_t *input = from_hex(fields[5], &want_len);
    uint8_t *stored = from_hex(fields[6], &stored_len);
    /* read */
    raw_set(reader, key, stored, stored_len);
    CHECK_STATUS(nc_cache_get(reader, (const uint8_t *)key, strlen(key), &v), NC_OK);
    if (!value_is(v, input, want_len)) fprintf(stderr, "read mismatch in %s\n", fields[1]);
    CHECK(value_is(v, input, want_len));
    nc_value_free(v);
    /* write */
    nc_cache *writer = open_with(fields[2], fields[3], fields[4]);
    CHECK_STATUS(nc_cache_set(writer, (const uint8_t *)key, strlen(key), input, want_len, 0, 0), NC_OK);
    if (!raw_is(writer, key, stored, stored_len)) fprintf(stderr, "write mismatch in %s\n", fields[1]);
    CHECK(raw_is(writer, key, stored, stored_len));
    nc_cache_free(writer);
    free(input);
    free(stored);
  } else if (fields[0][0] == 'D' && n == 4) {
    uint8_t *stored = from_hex(fields[2], &stored_len);
    uint8_t *output = from_hex(fields[3], &want_len);
    raw_set(reader, key, stored, stored_len);
    CHECK_STATUS(nc_cache_get(reader, (const uint8_t *)key, strlen(key), &v), NC_OK);
    if (!value_is(v, output, want_len)) fprintf(stderr, "decode mismatch in %s\n", fields[1]);
    CHECK(value_is(v, output, want_len));
    nc_value_free(v);
    free(stored);
    free(output);
  } else if (fields[0][0] == 'X' && n == 4) {
    uint8_t *stored = from_hex(fields[2], &stored_len);
    raw_set(reader, key, stored, stored_len);
    v = (nc_value *)0x1;
    nc_status s = nc_cache_get(reader, (const uint8_t *)key, strlen(key), &v);
    if (strcmp(nc_status_code((int)s), fields[3]) != 0) {
      fprintf(stderr, "%s: got %s (%s), expected %s\n", fields[1], nc_status_code((int)s), nc_last_error(), fields[3]);
    }
    CHECK(strcmp(nc_status_code((int)s), fields[3]) == 0);
    CHECK(v == (nc_value *)0x1);
    free(stored);
  } else {
    fprintf(stderr, "bad vector line for %s\n", fields[1] ? fields[1] : "?");
    CHECK(0);
  }
}

int main(void) {
  url = env_or_die("NC_TEST_URL");
  const char *path = env_or_die("NC_TEST_VECTORS");
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return 2;
  }
  nc_cache *reader = open_with(NULL, NULL, NULL);
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    check_case(reader, line);
  }
  free(line);
  fclose(f);
  nc_cache_free(reader);
  CHECK(cases >= 26);
  h_tests = cases;
  return harness_exit("test_vectors");
}
