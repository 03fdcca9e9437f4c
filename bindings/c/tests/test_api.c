/*
 * The C API, function by function, against a real redis-server started by
 * tests/run.sh through tests/redis-launcher:
 *   NC_TEST_URL        a plain server
 *   NC_TEST_AUTH_URL   a server started with --requirepass secret
 *   NC_TEST_CONFIGS    tests/conformance/configs
 */
#define _GNU_SOURCE /* memmem, setenv */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static const char *url;
static const char *auth_url;
static const char *configs;

/* A cache for `url` with the given invalidation mode (tracking when NULL). */
static nc_cache *open_cache(const char *redis_url, const char *invalidation) {
  nc_config *cfg = NULL;
  nc_cache *cache = NULL;
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", redis_url), NC_OK);
  if (invalidation != NULL) {
    CHECK_STATUS(nc_config_set(cfg, "l1.invalidation", invalidation), NC_OK);
  }
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_OK);
  nc_config_free(cfg);
  return cache;
}

static char *read_file(const char *dir, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = calloc(1, (size_t)n + 1);
  if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
    exit(2);
  }
  fclose(f);
  return text;
}

static void strip_newline(char *text) {
  size_t n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) {
    text[--n] = '\0';
  }
}

/* A loopback port nothing listens on (bound, then released). */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  bind(fd, (struct sockaddr *)&addr, sizeof addr);
  getsockname(fd, (struct sockaddr *)&addr, &len);
  close(fd);
  return ntohs(addr.sin_port);
}

/* A socket that accepts TCP connections (the kernel's backlog does) but never
 * answers: a hung server. Returns the listening fd; *port gets its port. */
static int silent_server(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  bind(fd, (struct sockaddr *)&addr, sizeof addr);
  listen(fd, 16);
  getsockname(fd, (struct sockaddr *)&addr, &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

static void test_version_and_codes(void) {
  CHECK(strlen(nc_version()) >= 5);
  CHECK(strcmp(nc_status_code(NC_OK), "NC_OK") == 0);
  CHECK(strcmp(nc_status_code(NC_NOT_FOUND), "NC_NOT_FOUND") == 0);
  CHECK(strcmp(nc_status_code(NC_NOT_WRITTEN), "NC_NOT_WRITTEN") == 0);
  CHECK(strcmp(nc_status_code(NC_BUFFER_TOO_SMALL), "NC_BUFFER_TOO_SMALL") == 0);
  /* The codes every language shares (the error table of docs/design.md). */
  struct { nc_status status; const char *code; } table[] = {
      {NC_ERR_CONFIG, "NC_CONFIG"},   {NC_ERR_CONNECTION, "NC_CONNECTION"},
      {NC_ERR_TIMEOUT, "NC_TIMEOUT"}, {NC_ERR_AUTH, "NC_AUTH"},
      {NC_ERR_REDIS, "NC_REDIS"},     {NC_ERR_CODEC, "NC_CODEC"},
      {NC_ERR_INVALID_ARGUMENT, "NC_INVALID_ARGUMENT"},
      {NC_ERR_CLOSED, "NC_CLOSED"},   {NC_ERR_LOADER, "NC_LOADER"},
      {NC_ERR_INTERNAL, "NC_INTERNAL"},
      {NC_ERR_TRANSACTION_ABORTED, "NC_TRANSACTION_ABORTED"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    CHECK(strcmp(nc_status_code(table[i].status), table[i].code) == 0);
  }
  CHECK(strcmp(nc_status_code(-1), "NC_UNKNOWN_STATUS") == 0);
  CHECK(strcmp(nc_status_code(99), "NC_UNKNOWN_STATUS") == 0);
  /* Values are part of the ABI. */
  CHECK(NC_OK == 0 && NC_NOT_FOUND == 1 && NC_ERR_CONFIG == 100 && NC_ERR_INTERNAL == 109);
}

/* Every function with NULL where a pointer is required: an error status with
 * a message, never a crash; outputs untouched. */
static void test_null_arguments(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_value *v = (nc_value *)0x1;
  nc_reply *r = (nc_reply *)0x1;
  char *text = (char *)0x1;
  size_t needed = 77;
  int64_t ttl = 77;
  const uint8_t *keys[1] = {NULL};
  size_t lens[1] = {3};
  nc_value *values[1] = {(nc_value *)0x1};
  uint8_t buf[4];

  CHECK_STATUS(nc_cache_get(NULL, S("k"), &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("cache is NULL");
  CHECK_STATUS(nc_cache_get(cache, NULL, 3, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("key is NULL");
  CHECK_STATUS(nc_cache_get(cache, S("k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("out is NULL");
  CHECK_STATUS(nc_cache_get(cache, (const uint8_t *)"k", SIZE_MAX, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK(v == (nc_value *)0x1);
  CHECK_STATUS(nc_cache_get_into(NULL, S("k"), buf, sizeof buf, &needed), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_into(cache, S("k"), NULL, 4, &needed), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_into(cache, S("k"), buf, sizeof buf, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(needed == 77);
  CHECK_STATUS(nc_cache_get_many(NULL, 1, keys, lens, values), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_many(cache, 1, NULL, lens, values), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_many(cache, 1, keys, NULL, values), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_many(cache, 1, keys, lens, values), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("keys[0] is NULL");
  keys[0] = (const uint8_t *)"k";
  lens[0] = 1;
  CHECK_STATUS(nc_cache_get_many(cache, 1, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(values[0] == (nc_value *)0x1);
  CHECK_STATUS(nc_cache_set(NULL, S("k"), S("v"), 0, 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_set(cache, NULL, 1, S("v"), 0, 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_set(cache, S("k"), NULL, 1, 0, 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("value is NULL");
  CHECK_STATUS(nc_cache_delete(NULL, S("k")), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_delete(cache, NULL, 1), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_expire(NULL, S("k"), 1000), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_ttl(NULL, S("k"), &ttl), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_ttl(cache, S("k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(ttl == 77);
  CHECK_STATUS(nc_cache_hget(NULL, S("h"), S("f"), &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hget(cache, S("h"), NULL, 1, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hget(cache, S("h"), S("f"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hset(NULL, S("h"), 1, keys, lens, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hset(cache, S("h"), 1, NULL, lens, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hset(cache, S("h"), 1, keys, lens, keys, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hdel(NULL, S("h"), 1, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hdel(cache, S("h"), 1, NULL, NULL, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_invalidate_local(NULL, 1, keys, lens), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_invalidate_local(cache, 1, NULL, lens), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_invalidate_local_all(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_command(NULL, 1, keys, lens, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_command(cache, 1, NULL, lens, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_command(cache, 1, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(r == (nc_reply *)0x1);
  CHECK_STATUS(nc_cache_stats_json(NULL, &text), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_stats_json(cache, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_config_json(NULL, &text), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_config_json(cache, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK(text == (char *)0x1);
  CHECK_STATUS(nc_cache_connect(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_close(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open(NULL, &cache), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open_url(NULL, &cache), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open_url(url, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open_toml(NULL, &cache), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open_config(NULL, &cache), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_open_env(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_new(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_set(NULL, "url", "x"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_json(NULL, &text), NC_ERR_INVALID_ARGUMENT);
  /* Reply accessors. */
  int64_t i = 5;
  double d = 5;
  const uint8_t *data = NULL;
  size_t len = 0;
  const nc_reply *element = NULL;
  CHECK(nc_reply_get_type(NULL) == NC_REPLY_NIL);
  CHECK(nc_reply_len(NULL) == 0);
  CHECK_STATUS(nc_reply_integer(NULL, &i), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_reply_double(NULL, &d), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_reply_string(NULL, &data, &len), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_reply_element(NULL, 0, &element), NC_ERR_INVALID_ARGUMENT);
  CHECK(i == 5 && d == 5 && data == NULL && element == NULL);
  /* Value accessors and every *_free accept NULL. */
  CHECK(nc_value_data(NULL) == NULL);
  CHECK(nc_value_len(NULL) == 0);
  nc_value_free(NULL);
  nc_reply_free(NULL);
  nc_string_free(NULL);
  nc_config_free(NULL);
  nc_cache_free(NULL);
  /* The message survives status-less calls and is cleared by a success. */
  CHECK_STATUS(nc_cache_get(NULL, S("k"), &v), NC_ERR_INVALID_ARGUMENT);
  (void)nc_status_code(NC_OK);
  nc_value_free(NULL);
  CHECK_MESSAGE_HAS("cache is NULL");
  CHECK_STATUS(nc_cache_invalidate_local(cache, 0, NULL, NULL), NC_OK);
  CHECK(strcmp(nc_last_error(), "") == 0);
  nc_cache_free(cache);
}

static void test_config_handle(void) {
  nc_config *cfg = NULL;
  char *json = NULL;
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", "redis://app:s3cret@127.0.0.1:6390/2"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "l1.max_bytes", "128MiB"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "l1.ttl_jitter", "0.25"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.connections", "4"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "l1.invalidation", "bcast"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "l1.prefixes", "[\"user:\", \"cart:\"]"), NC_OK);
  CHECK_STATUS(nc_config_json(cfg, &json), NC_OK);
  CHECK(json != NULL && strstr(json, "\"max_bytes\": \"128MiB\"") != NULL);
  CHECK(json != NULL && strstr(json, "\"connections\": 4") != NULL);
  CHECK(json != NULL && strstr(json, "\"ttl_jitter\": 0.25") != NULL);
  CHECK(json != NULL && strstr(json, "\"cart:\"") != NULL);
  CHECK(json != NULL && strstr(json, "redis://app:***@127.0.0.1:6390/2") != NULL);
  CHECK(json != NULL && strstr(json, "s3cret") == NULL);
  nc_string_free(json);

  /* Path shape errors at set time. */
  CHECK_STATUS(nc_config_set(cfg, "l1..ttl", "1s"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_set(cfg, "", "1s"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_set(cfg, "redis.connections.x", "1"), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("redis.connections");
  CHECK_STATUS(nc_config_set(cfg, "l1.ttl", NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_set(cfg, NULL, "1s"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_config_set(cfg, "l1.ttl", "\xff\xfe"), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("UTF-8");

  /* Value errors when used: NC_ERR_CONFIG naming the field path. */
  json = (char *)0x1;
  CHECK_STATUS(nc_config_set(cfg, "l1.max_bytes", "lots"), NC_OK);
  CHECK_STATUS(nc_config_json(cfg, &json), NC_ERR_CONFIG);
  CHECK(strncmp(nc_last_error(), "l1.max_bytes:", 13) == 0);
  CHECK(json == (char *)0x1);
  nc_cache *cache = (nc_cache *)0x1;
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_ERR_CONFIG);
  CHECK(strcmp(nc_last_error(), "l1.max_bytes: expected a size like \"64MiB\", got \"lots\"") == 0);
  CHECK(cache == (nc_cache *)0x1);
  CHECK_STATUS(nc_config_set(cfg, "l1.max_bytes", "64MiB"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "l1.max_byte", "64MiB"), NC_OK);
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_ERR_CONFIG);
  CHECK(strncmp(nc_last_error(), "l1.max_byte: unknown field", 26) == 0);
  nc_config_free(cfg);

  /* Passwords: a JSON-looking one must be JSON-quoted; an unquoted number
     is refused without being echoed; the dump shows "***". */
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.password", "918273"), NC_OK);
  CHECK_STATUS(nc_config_json(cfg, &json), NC_ERR_CONFIG);
  CHECK(strcmp(nc_last_error(), "redis.password: expected a string, got a number (quote the password)") == 0);
  CHECK_STATUS(nc_config_set(cfg, "redis.password", "\"918273\""), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.username", "app"), NC_OK);
  CHECK_STATUS(nc_config_json(cfg, &json), NC_OK);
  CHECK(json != NULL && strstr(json, "\"password\": \"***\"") != NULL);
  CHECK(json != NULL && strstr(json, "\"username\": \"app\"") != NULL);
  CHECK(json != NULL && strstr(json, "918273") == NULL);
  nc_string_free(json);
  nc_config_free(cfg);

  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.command_timeout", "soon"), NC_OK);
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_ERR_CONFIG);
  CHECK(strncmp(nc_last_error(), "redis.command_timeout:", 22) == 0);
  nc_config_free(cfg);

  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", "redis://127.0.0.1:1"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.url", "redis://127.0.0.1:2"), NC_OK);
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_ERR_CONFIG);
  CHECK_MESSAGE_HAS("url");
  nc_config_free(cfg);
}

static void test_open_variants(void) {
  /* Reset after every free: a failed open leaves `cache` untouched, and a
     freed handle passed on would crash the suite instead of failing a check. */
  nc_cache *cache = NULL;
  char *json = NULL;
  char path[1024];

  /* URL: bad URLs are config errors; passwords never show. */
  CHECK_STATUS(nc_cache_open_url("http://127.0.0.1", &cache), NC_ERR_CONFIG);
  CHECK(strncmp(nc_last_error(), "redis.url:", 10) == 0);
  CHECK_STATUS(nc_cache_open_url("redis://u:s3cret@127.0.0.1:6390/x", &cache), NC_ERR_CONFIG);
  CHECK(strstr(nc_last_error(), "s3cret") == NULL);
  CHECK_STATUS(nc_cache_open_url(url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_connect(cache), NC_OK);
  CHECK_STATUS(nc_cache_config_json(cache, &json), NC_OK);
  CHECK(json != NULL && strstr(json, url) != NULL);
  nc_string_free(json);
  nc_cache_free(cache);
  cache = NULL;

  /* TOML text. */
  char toml[512];
  snprintf(toml, sizeof toml, "[redis]\nurl = \"%s\"\n[l1]\nmax_bytes = \"1MiB\"\n", url);
  CHECK_STATUS(nc_cache_open_toml(toml, &cache), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("toml:k"), S("v"), 0, 0), NC_OK);
  nc_cache_free(cache);
  cache = NULL;
  CHECK_STATUS(nc_cache_open_toml("[l1]\nttl = \"forever\"\n", &cache), NC_ERR_CONFIG);
  CHECK(strncmp(nc_last_error(), "l1.ttl:", 7) == 0);
  CHECK_STATUS(nc_cache_open_toml("[l1\n", &cache), NC_ERR_CONFIG);

  /* Config files: the conformance configs every language reads. */
  snprintf(path, sizeof path, "%s/full.toml", configs);
  CHECK_STATUS(nc_cache_open_config(path, &cache), NC_OK);
  CHECK_STATUS(nc_cache_config_json(cache, &json), NC_OK);
  char *expected = read_file(configs, "full.expected.json");
  strip_newline(expected);
  CHECK(json != NULL && strcmp(json, expected) == 0);
  free(expected);
  nc_string_free(json);
  nc_cache_free(cache);
  cache = NULL;
  const char *bad[] = {"bad-size", "unknown-field"};
  for (size_t i = 0; i < 2; i++) {
    char name[128];
    snprintf(path, sizeof path, "%s/%s.toml", configs, bad[i]);
    CHECK_STATUS(nc_cache_open_config(path, &cache), NC_ERR_CONFIG);
    snprintf(name, sizeof name, "%s.expected-error.txt", bad[i]);
    char *message = read_file(configs, name);
    strip_newline(message);
    CHECK(strcmp(nc_last_error(), message) == 0);
    free(message);
  }
  CHECK_STATUS(nc_cache_open_config("/nonexistent/nearcache.toml", &cache), NC_ERR_CONFIG);
  CHECK_MESSAGE_HAS("/nonexistent/nearcache.toml");

  /* Environment. */
  setenv("NEARCACHE_URL", url, 1);
  CHECK_STATUS(nc_cache_open_env(&cache), NC_OK);
  CHECK_STATUS(nc_cache_config_json(cache, &json), NC_OK);
  CHECK(json != NULL && strstr(json, url) != NULL);
  nc_string_free(json);
  nc_cache_free(cache);
  cache = NULL;
  setenv("NEARCACHE_URL", "ftp://nowhere", 1);
  CHECK_STATUS(nc_cache_open_env(&cache), NC_ERR_CONFIG);
  CHECK_MESSAGE_HAS("NEARCACHE_URL");
  unsetenv("NEARCACHE_URL");
}

static void test_get_set(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_value *v = NULL;
  uint8_t buf[64];
  size_t needed = 0;

  CHECK_STATUS(nc_cache_set(cache, S("gs:k"), S("hello"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("gs:k"), &v), NC_OK);
  CHECK(value_is(v, "hello", 5));
  nc_value *again = NULL;
  CHECK_STATUS(nc_cache_get(cache, S("gs:k"), &again), NC_OK); /* an L1 hit */
  CHECK(value_is(again, "hello", 5));
  nc_value_free(again);

  /* get_into: fits, too small, size query. */
  memset(buf, 0, sizeof buf);
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:k"), buf, sizeof buf, &needed), NC_OK);
  CHECK(needed == 5 && memcmp(buf, "hello", 5) == 0);
  memset(buf, 'x', sizeof buf);
  needed = 0;
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:k"), buf, 4, &needed), NC_BUFFER_TOO_SMALL);
  CHECK(needed == 5 && buf[0] == 'x');
  CHECK_MESSAGE_HAS("5 bytes");
  needed = 0;
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:k"), NULL, 0, &needed), NC_BUFFER_TOO_SMALL);
  CHECK(needed == 5);
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:k"), buf, 5, &needed), NC_OK);

  /* A miss: NC_NOT_FOUND, *out = NULL, *needed = 0. */
  nc_value *missing = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_get(cache, S("gs:missing"), &missing), NC_NOT_FOUND);
  CHECK(missing == NULL);
  missing = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_get(cache, S("gs:missing"), &missing), NC_NOT_FOUND); /* negative entry */
  CHECK(missing == NULL);
  needed = 9;
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:missing"), buf, sizeof buf, &needed), NC_NOT_FOUND);
  CHECK(needed == 0);

  /* Overwrite: this process reads its own write at once. */
  CHECK_STATUS(nc_cache_set(cache, S("gs:k"), S("world!"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("gs:k"), &again), NC_OK);
  CHECK(value_is(again, "world!", 6));
  CHECK(value_is(v, "hello", 5)); /* the old handle is unchanged */
  nc_value_free(again);
  nc_value_free(v);

  /* Binary keys and values, empty values. */
  const uint8_t bkey[] = {'b', 0, 1, 0xff};
  const uint8_t bval[] = {0, 0, 'N', 'C', 0xfe};
  CHECK_STATUS(nc_cache_set(cache, bkey, sizeof bkey, bval, sizeof bval, 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, bkey, sizeof bkey, &v), NC_OK);
  CHECK(value_is(v, bval, sizeof bval));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_set(cache, S("gs:empty"), NULL, 0, 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("gs:empty"), &v), NC_OK);
  CHECK(v != NULL && nc_value_len(v) == 0);
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get_into(cache, S("gs:empty"), NULL, 0, &needed), NC_OK);
  CHECK(needed == 0);

  /* A large value: compressed on the way in, whole on the way out. */
  size_t big_len = 256 * 1024;
  uint8_t *big = malloc(big_len);
  for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)("abcdefgh"[i % 8] + (i / 4096) % 3);
  CHECK_STATUS(nc_cache_set(cache, S("gs:big"), big, big_len, 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_invalidate_local_all(cache), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("gs:big"), &v), NC_OK);
  CHECK(value_is(v, big, big_len));
  nc_value_free(v);
  free(big);

  /* Bad keys. */
  CHECK_STATUS(nc_cache_get(cache, NULL, 0, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("key is empty");
  CHECK_STATUS(nc_cache_set(cache, (const uint8_t *)"", 0, S("v"), 0, 0), NC_ERR_INVALID_ARGUMENT);
  size_t long_len = 64 * 1024 + 1;
  uint8_t *long_key = calloc(1, long_len);
  CHECK_STATUS(nc_cache_get(cache, long_key, long_len, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("65537");
  free(long_key);
  nc_cache_free(cache);
}

static void test_set_flags_and_ttl(void) {
  nc_cache *cache = open_cache(url, NULL);
  int64_t ttl = 0;
  nc_value *v = NULL;
  CHECK_STATUS(nc_cache_delete(cache, S("fl:k")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("a"), 0, NC_SET_XX), NC_NOT_WRITTEN);
  CHECK_STATUS(nc_cache_get(cache, S("fl:k"), &v), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("a"), 0, NC_SET_NX), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("b"), 0, NC_SET_NX), NC_NOT_WRITTEN);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("c"), 0, NC_SET_XX), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("fl:k"), &v), NC_OK);
  CHECK(value_is(v, "c", 1));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("d"), 0, NC_SET_NX | NC_SET_XX), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("d"), 0, 8), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("0x8");

  /* ttl: persistent, exact, jittered (only ever shorter), missing. */
  CHECK_STATUS(nc_cache_ttl(cache, S("fl:k"), &ttl), NC_OK);
  CHECK(ttl == -1);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("e"), 100000, NC_SET_EXACT_TTL), NC_OK);
  CHECK_STATUS(nc_cache_ttl(cache, S("fl:k"), &ttl), NC_OK);
  CHECK(ttl > 90000 && ttl <= 100000);
  CHECK_STATUS(nc_cache_set(cache, S("fl:k"), S("e"), 100000, 0), NC_OK);
  CHECK_STATUS(nc_cache_ttl(cache, S("fl:k"), &ttl), NC_OK);
  CHECK(ttl >= 80000 && ttl <= 100000);
  ttl = 5;
  CHECK_STATUS(nc_cache_ttl(cache, S("fl:none"), &ttl), NC_NOT_FOUND);
  CHECK(ttl == 5);

  /* expire and delete. */
  CHECK_STATUS(nc_cache_expire(cache, S("fl:k"), 500000), NC_OK);
  CHECK_STATUS(nc_cache_ttl(cache, S("fl:k"), &ttl), NC_OK);
  CHECK(ttl > 400000 && ttl <= 500000);
  CHECK_STATUS(nc_cache_expire(cache, S("fl:none"), 1000), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_expire(cache, S("fl:k"), 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_delete(cache, S("fl:k")), NC_OK);
  CHECK_STATUS(nc_cache_delete(cache, S("fl:k")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_get(cache, S("fl:k"), &v), NC_NOT_FOUND);
  nc_cache_free(cache);
}

static void test_get_many(void) {
  nc_cache *cache = open_cache(url, NULL);
  CHECK_STATUS(nc_cache_set(cache, S("gm:a"), S("A"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("gm:c"), S("CC"), 0, 0), NC_OK);
  nc_value *warm = NULL;
  CHECK_STATUS(nc_cache_get(cache, S("gm:a"), &warm), NC_OK); /* one from L1, the rest by MGET */
  nc_value_free(warm);
  const uint8_t *keys[] = {(const uint8_t *)"gm:a", (const uint8_t *)"gm:b", (const uint8_t *)"gm:c"};
  size_t lens[] = {4, 4, 4};
  nc_value *out[3] = {(nc_value *)0x1, (nc_value *)0x1, (nc_value *)0x1};
  CHECK_STATUS(nc_cache_get_many(cache, 3, keys, lens, out), NC_OK);
  CHECK(value_is(out[0], "A", 1));
  CHECK(out[1] == NULL);
  CHECK(value_is(out[2], "CC", 2));
  for (int i = 0; i < 3; i++) nc_value_free(out[i]);
  CHECK_STATUS(nc_cache_get_many(cache, 0, NULL, NULL, NULL), NC_OK);
  /* One bad key fails the call and leaves out untouched. */
  lens[1] = 0;
  out[0] = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_get_many(cache, 3, keys, lens, out), NC_ERR_INVALID_ARGUMENT);
  CHECK(out[0] == (nc_value *)0x1);
  nc_cache_free(cache);
}

static void test_hashes(void) {
  nc_cache *cache = open_cache(url, NULL);
  const uint8_t *fields[] = {(const uint8_t *)"name", (const uint8_t *)"email"};
  size_t field_lens[] = {4, 5};
  const uint8_t *values[] = {(const uint8_t *)"ada", (const uint8_t *)"ada@example.com"};
  size_t value_lens[] = {3, 15};
  uint64_t added = 99, removed = 99;
  nc_value *v = NULL;
  CHECK_STATUS(nc_cache_delete(cache, S("h:user")), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_hset(cache, S("h:user"), 2, fields, field_lens, values, value_lens, &added), NC_OK);
  CHECK(added == 2);
  CHECK_STATUS(nc_cache_hset(cache, S("h:user"), 1, fields, field_lens, values, value_lens, NULL), NC_OK);
  CHECK_STATUS(nc_cache_hget(cache, S("h:user"), S("email"), &v), NC_OK);
  CHECK(value_is(v, "ada@example.com", 15));
  nc_value_free(v);
  v = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_hget(cache, S("h:user"), S("phone"), &v), NC_NOT_FOUND);
  CHECK(v == NULL);
  v = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_hget(cache, S("h:nobody"), S("name"), &v), NC_NOT_FOUND);
  CHECK(v == NULL);
  CHECK_STATUS(nc_cache_hdel(cache, S("h:user"), 2, fields, field_lens, &removed), NC_OK);
  CHECK(removed == 2);
  CHECK_STATUS(nc_cache_hdel(cache, S("h:user"), 1, fields, field_lens, NULL), NC_OK);
  /* No fields: core decides, as in every language. HSET refuses (Redis has
   * no empty HSET); HDEL removes nothing, and says so. */
  CHECK_STATUS(nc_cache_hset(cache, S("h:user"), 0, NULL, NULL, NULL, NULL, &added), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("HSET: no fields given");
  removed = 99;
  CHECK_STATUS(nc_cache_hdel(cache, S("h:user"), 0, NULL, NULL, &removed), NC_OK);
  CHECK(removed == 0);
  CHECK_STATUS(nc_cache_hdel(cache, S(""), 0, NULL, NULL, &removed), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("the key is empty");
  /* Wrong types are Redis errors naming the key. */
  CHECK_STATUS(nc_cache_set(cache, S("h:string"), S("x"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_hget(cache, S("h:string"), S("f"), &v), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("WRONGTYPE");
  CHECK_MESSAGE_HAS("h:string");
  CHECK_STATUS(nc_cache_hset(cache, S("h:string"), 1, fields, field_lens, values, value_lens, &added), NC_ERR_REDIS);
  CHECK_STATUS(nc_cache_get(cache, S("h:user2"), &v), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_hset(cache, S("h:user2"), 1, fields, field_lens, values, value_lens, NULL), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("h:user2"), &v), NC_ERR_REDIS);
  nc_cache_free(cache);
}

/* L1 semantics seen from C: in ttl mode (no server help) another client's
 * write is not seen until the entry is dropped locally. */
static void test_invalidate_local(void) {
  nc_cache *reader = open_cache(url, "ttl");
  nc_cache *writer = open_cache(url, "off");
  nc_value *v = NULL;
  CHECK_STATUS(nc_cache_set(writer, S("inv:k"), S("one"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_set(writer, S("inv:j"), S("one"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(reader, S("inv:k"), &v), NC_OK);
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get(reader, S("inv:j"), &v), NC_OK);
  nc_value_free(v);
  CHECK_STATUS(nc_cache_set(writer, S("inv:k"), S("two"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_set(writer, S("inv:j"), S("two"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(reader, S("inv:k"), &v), NC_OK);
  CHECK(value_is(v, "one", 3)); /* from L1 */
  nc_value_free(v);
  const uint8_t *keys[] = {(const uint8_t *)"inv:k"};
  size_t lens[] = {5};
  CHECK_STATUS(nc_cache_invalidate_local(reader, 1, keys, lens), NC_OK);
  CHECK_STATUS(nc_cache_get(reader, S("inv:k"), &v), NC_OK);
  CHECK(value_is(v, "two", 3));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get(reader, S("inv:j"), &v), NC_OK);
  CHECK(value_is(v, "one", 3));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_invalidate_local_all(reader), NC_OK);
  CHECK_STATUS(nc_cache_get(reader, S("inv:j"), &v), NC_OK);
  CHECK(value_is(v, "two", 3));
  nc_value_free(v);
  keys[0] = NULL;
  CHECK_STATUS(nc_cache_invalidate_local(reader, 1, keys, lens), NC_ERR_INVALID_ARGUMENT);
  /* Stats count the hits. */
  char *stats = NULL;
  CHECK_STATUS(nc_cache_stats_json(reader, &stats), NC_OK);
  CHECK(stats != NULL && strstr(stats, "\"l1_hits\":2") != NULL);
  CHECK(stats != NULL && strstr(stats, "\"invalidations\":") != NULL);
  nc_string_free(stats);
  nc_cache_free(reader);
  nc_cache_free(writer);
}

/* nc_cache_command with NUL-terminated arguments. */
static nc_status command(const nc_cache *cache, nc_reply **reply, int argc, ...) {
  const uint8_t *argv[16];
  size_t lens[16];
  va_list ap;
  va_start(ap, argc);
  for (int i = 0; i < argc; i++) {
    const char *arg = va_arg(ap, const char *);
    argv[i] = (const uint8_t *)arg;
    lens[i] = strlen(arg);
  }
  va_end(ap);
  return nc_cache_command(cache, (size_t)argc, argv, lens, reply);
}

static int reply_string_is(const nc_reply *r, const char *text) {
  const uint8_t *data = NULL;
  size_t len = 0;
  return nc_reply_string(r, &data, &len) == NC_OK && len == strlen(text) && memcmp(data, text, len) == 0;
}

static void test_command(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_reply *r = NULL;
  const nc_reply *e = NULL;
  int64_t i = 0;
  double d = 0;

  CHECK_STATUS(command(cache, &r, 3, "SET", "cmd:k", "v1"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_STATUS && reply_string_is(r, "OK"));
  CHECK_STATUS(nc_reply_integer(r, &i), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("not an integer");
  nc_reply_free(r);

  /* A write through command drops the L1 entry: reads see it at once. */
  nc_value *v = NULL;
  CHECK_STATUS(nc_cache_get(cache, S("cmd:k"), &v), NC_OK);
  nc_value_free(v);
  CHECK_STATUS(command(cache, &r, 3, "APPEND", "cmd:k", "+"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_INTEGER);
  CHECK_STATUS(nc_reply_integer(r, &i), NC_OK);
  CHECK(i == 3);
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_get(cache, S("cmd:k"), &v), NC_OK);
  CHECK(value_is(v, "v1+", 3));
  nc_value_free(v);

  CHECK_STATUS(command(cache, &r, 2, "GET", "cmd:k"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_STRING && reply_string_is(r, "v1+"));
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 2, "GET", "cmd:none"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_NIL && nc_reply_len(r) == 0);
  nc_reply_free(r);

  /* Arrays with nested nils. */
  CHECK_STATUS(command(cache, &r, 3, "MGET", "cmd:k", "cmd:none"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_ARRAY && nc_reply_len(r) == 2);
  CHECK_STATUS(nc_reply_element(r, 0, &e), NC_OK);
  CHECK(reply_string_is(e, "v1+"));
  CHECK_STATUS(nc_reply_element(r, 1, &e), NC_OK);
  CHECK(nc_reply_get_type(e) == NC_REPLY_NIL);
  CHECK_STATUS(nc_reply_element(r, 2, &e), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("out of range");
  nc_reply_free(r);

  /* RESP3 types: double, map, set. */
  CHECK_STATUS(command(cache, &r, 4, "ZADD", "cmd:z", "1.5", "m"), NC_OK);
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 3, "ZSCORE", "cmd:z", "m"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_DOUBLE);
  CHECK_STATUS(nc_reply_double(r, &d), NC_OK);
  CHECK(d == 1.5);
  CHECK_STATUS(nc_reply_string(r, &(const uint8_t *){NULL}, &(size_t){0}), NC_ERR_INVALID_ARGUMENT);
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 6, "HSET", "cmd:h", "f1", "a", "f2", "b"), NC_OK);
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 2, "HGETALL", "cmd:h"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_MAP && nc_reply_len(r) == 4);
  int seen = 0;
  for (size_t k = 0; k < nc_reply_len(r); k += 2) {
    const nc_reply *key = NULL, *val = NULL;
    CHECK_STATUS(nc_reply_element(r, k, &key), NC_OK);
    CHECK_STATUS(nc_reply_element(r, k + 1, &val), NC_OK);
    if (reply_string_is(key, "f1") && reply_string_is(val, "a")) seen |= 1;
    if (reply_string_is(key, "f2") && reply_string_is(val, "b")) seen |= 2;
  }
  CHECK(seen == 3);
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 4, "SADD", "cmd:s", "x", "y"), NC_OK);
  nc_reply_free(r);
  CHECK_STATUS(command(cache, &r, 2, "SMEMBERS", "cmd:s"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_SET && nc_reply_len(r) == 2);
  CHECK_STATUS(nc_reply_double(r, &d), NC_ERR_INVALID_ARGUMENT);
  nc_reply_free(r);
  /* A Lua script's nested error and boolean (RESP3). */
  CHECK_STATUS(command(cache, &r, 3, "EVAL", "redis.setresp(3); return {redis.error_reply('ERR nested'), true}", "0"), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_ARRAY && nc_reply_len(r) == 2);
  CHECK_STATUS(nc_reply_element(r, 0, &e), NC_OK);
  CHECK(nc_reply_get_type(e) == NC_REPLY_ERROR);
  {
    const uint8_t *data = NULL;
    size_t len = 0;
    CHECK_STATUS(nc_reply_string(e, &data, &len), NC_OK);
    CHECK(len >= 6 && memmem(data, len, "nested", 6) != NULL);
  }
  CHECK_STATUS(nc_reply_element(r, 1, &e), NC_OK);
  CHECK(nc_reply_get_type(e) == NC_REPLY_BOOL);
  CHECK_STATUS(nc_reply_integer(e, &i), NC_OK);
  CHECK(i == 1);
  CHECK_STATUS(nc_reply_element(e, 0, &e), NC_ERR_INVALID_ARGUMENT);
  nc_reply_free(r);

  /* Errors: server error replies, refused commands, no command. */
  r = (nc_reply *)0x1;
  CHECK_STATUS(command(cache, &r, 2, "INCR", "cmd:k"), NC_ERR_REDIS);
  CHECK_MESSAGE_HAS("not an integer");
  CHECK(r == (nc_reply *)0x1);
  CHECK_STATUS(command(cache, &r, 1, "NOSUCHCOMMAND"), NC_ERR_REDIS);
  CHECK_STATUS(command(cache, &r, 1, "MULTI"), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("MULTI");
  CHECK_STATUS(command(cache, &r, 2, "SELECT", "1"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(command(cache, &r, 3, "BLPOP", "q", "0"), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_command(cache, 0, NULL, NULL, &r), NC_ERR_INVALID_ARGUMENT);
  CHECK(r == (nc_reply *)0x1);
  nc_cache_free(cache);
}

static void test_stats_and_config_json(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_value *v = NULL;
  char *stats = NULL, *config = NULL;
  CHECK_STATUS(nc_cache_set(cache, S("st:k"), S("v"), 0, 0), NC_OK);
  for (int i = 0; i < 3; i++) {
    CHECK_STATUS(nc_cache_get(cache, S("st:k"), &v), NC_OK);
    nc_value_free(v);
  }
  CHECK_STATUS(nc_cache_hget(cache, S("st:k"), S("f"), &v), NC_ERR_REDIS);
  CHECK_STATUS(nc_cache_stats_json(cache, &stats), NC_OK);
  CHECK(stats != NULL && stats[0] == '{');
  CHECK(stats != NULL && strstr(stats, "\"l1_hits\":2") != NULL);
  CHECK(stats != NULL && strstr(stats, "\"l1_misses\":1") != NULL);
  if (stats != NULL && strstr(stats, "\"l1_misses\":1") == NULL) fprintf(stderr, "%s\n", stats);
  CHECK(stats != NULL && strstr(stats, "\"NC_REDIS\":1") != NULL);
  nc_string_free(stats);
  CHECK_STATUS(nc_cache_config_json(cache, &config), NC_OK);
  CHECK(config != NULL && strstr(config, "\"invalidation\": \"tracking\"") != NULL);
  nc_string_free(config);
  nc_cache_free(cache);
}

static void test_closed_cache(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_value *v = NULL, *kept = NULL;
  nc_reply *r = NULL;
  int64_t ttl = 0;
  size_t needed = 0;
  const uint8_t *keys[] = {(const uint8_t *)"cl:k"};
  size_t lens[] = {4};
  CHECK_STATUS(nc_cache_set(cache, S("cl:k"), S("kept"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("cl:k"), &kept), NC_OK);
  CHECK_STATUS(nc_cache_close(cache), NC_OK);
  CHECK_STATUS(nc_cache_close(cache), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("cl:k"), &v), NC_ERR_CLOSED);
  CHECK_MESSAGE_HAS("closed");
  CHECK_STATUS(nc_cache_get_into(cache, S("cl:k"), NULL, 0, &needed), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_get_many(cache, 1, keys, lens, &v), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_set(cache, S("cl:k"), S("v"), 0, 0), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_delete(cache, S("cl:k")), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_expire(cache, S("cl:k"), 10), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_ttl(cache, S("cl:k"), &ttl), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_hget(cache, S("cl:k"), S("f"), &v), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_hset(cache, S("cl:h"), 1, keys, lens, keys, lens, NULL), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_hdel(cache, S("cl:h"), 1, keys, lens, NULL), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_invalidate_local(cache, 1, keys, lens), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_invalidate_local_all(cache), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_connect(cache), NC_ERR_CLOSED);
  CHECK_STATUS(command(cache, &r, 1, "PING"), NC_ERR_CLOSED);
  char *stats = NULL;
  CHECK_STATUS(nc_cache_stats_json(cache, &stats), NC_OK);
  nc_string_free(stats);
  nc_cache_free(cache);
  /* A value handle outlives its cache. */
  CHECK(value_is(kept, "kept", 4));
  nc_value_free(kept);
}

/* The loader of test_added_functions: counts calls; fails when asked. */
typedef struct {
  int calls;
  int fail;
} test_loader_ctx;

static nc_status test_loader(void *user_data, const uint8_t *key, size_t key_len, const uint8_t **data,
                             size_t *len) {
  test_loader_ctx *ctx = user_data;
  ctx->calls++;
  if (ctx->fail) return NC_ERR_INTERNAL;
  (void)key;
  (void)key_len;
  *data = (const uint8_t *)"loaded";
  *len = 6;
  return NC_OK;
}

/* get_local, set_many, hmget, hgetall, scan, delete_prefix, get_or_load:
 * results, NULL arguments and a closed cache. The conformance runner
 * (tests/conformance/runners/c) covers their behaviour in depth. */
static void test_added_functions(void) {
  nc_cache *cache = open_cache(url, NULL);
  nc_value *v = (nc_value *)0x1, *vs[2] = {NULL, NULL};
  nc_reply *r = (nc_reply *)0x1;
  nc_scan *scan = (nc_scan *)0x1;
  uint64_t count = 77;
  const uint8_t *keys[] = {(const uint8_t *)"ad:1", (const uint8_t *)"ad:2"};
  size_t lens[] = {4, 4};
  const uint8_t *null_keys[] = {NULL};
  size_t null_lens[] = {3};
  test_loader_ctx ctx = {0, 0};

  /* get_local: NC_NOT_CACHED, then a hit, then a cached absence. */
  CHECK_STATUS(nc_cache_set_many(cache, 2, keys, lens, keys, lens, 60000), NC_OK);
  CHECK_STATUS(nc_cache_get_local(cache, S("ad:1"), &v), NC_NOT_CACHED);
  CHECK(v == NULL);
  CHECK(strcmp(nc_status_code(NC_NOT_CACHED), "NC_NOT_CACHED") == 0);
  CHECK_STATUS(nc_cache_get(cache, S("ad:1"), &v), NC_OK);
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get_local(cache, S("ad:1"), &v), NC_OK);
  CHECK(value_is(v, "ad:1", 4));
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get(cache, S("ad:none"), &v), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_get_local(cache, S("ad:none"), &v), NC_NOT_FOUND);
  CHECK_STATUS(nc_cache_get_local(cache, S(""), &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_local(cache, S("k"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_local(NULL, S("k"), &v), NC_ERR_INVALID_ARGUMENT);

  /* set_many: empty is fine; NULL arrays with a count are not. */
  CHECK_STATUS(nc_cache_set_many(cache, 0, NULL, NULL, NULL, NULL, 0), NC_OK);
  CHECK_STATUS(nc_cache_set_many(cache, 1, NULL, lens, keys, lens, 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_set_many(cache, 1, null_keys, null_lens, keys, lens, 0), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("keys[0] is NULL");

  /* Hashes. */
  CHECK_STATUS(nc_cache_hset(cache, S("ad:h"), 2, keys, lens, keys, lens, NULL), NC_OK);
  CHECK_STATUS(nc_cache_hmget(cache, S("ad:h"), 2, keys, lens, vs), NC_OK);
  CHECK(value_is(vs[0], "ad:1", 4) && value_is(vs[1], "ad:2", 4));
  nc_value_free(vs[0]);
  nc_value_free(vs[1]);
  /* No fields: no values, nothing written (the arrays may be NULL). */
  vs[0] = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_hmget(cache, S("ad:h"), 0, keys, lens, vs), NC_OK);
  CHECK(vs[0] == (nc_value *)0x1);
  CHECK_STATUS(nc_cache_hmget(cache, S("ad:h"), 0, NULL, NULL, NULL), NC_OK);
  CHECK_STATUS(nc_cache_hmget(cache, S("ad:h"), 2, keys, lens, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("out is NULL");
  CHECK(vs[0] == (nc_value *)0x1);
  vs[0] = NULL;
  CHECK_STATUS(nc_cache_hgetall(cache, S("ad:h"), &r), NC_OK);
  CHECK(nc_reply_get_type(r) == NC_REPLY_MAP && nc_reply_len(r) == 4);
  nc_reply_free(r);
  CHECK_STATUS(nc_cache_hgetall(cache, S("ad:h"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_hgetall(cache, S("ad:1"), &r), NC_ERR_REDIS); /* not a hash */

  /* scan: NULL output, then a full iteration; the end repeats. */
  CHECK_STATUS(nc_cache_scan(cache, S("ad:*"), NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_scan(cache, NULL, 2, &scan), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_scan(cache, S("ad:?"), &scan), NC_OK);
  size_t seen = 0;
  while (nc_scan_next(scan, &v) == NC_OK) {
    seen++;
    nc_value_free(v);
  }
  CHECK(seen >= 2);
  CHECK_STATUS(nc_scan_next(scan, &v), NC_NOT_FOUND);
  CHECK(v == NULL);
  CHECK_STATUS(nc_scan_next(scan, NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_scan_next(NULL, &v), NC_ERR_INVALID_ARGUMENT);
  nc_scan_free(scan);
  nc_scan_free(NULL);
  /* An empty pattern that is not NULL goes to core as it is: it matches
   * only the empty key, so nothing (as scan("") in Python and Node). */
  CHECK_STATUS(nc_cache_scan(cache, (const uint8_t *)"", 0, &scan), NC_OK);
  CHECK_STATUS(nc_scan_next(scan, &v), NC_NOT_FOUND);
  nc_scan_free(scan);

  /* get_or_load: runs the loader on a miss only; a failing loader is NC_ERR_LOADER. */
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:load"), 60000, test_loader, &ctx, &v), NC_OK);
  CHECK(value_is(v, "loaded", 6) && ctx.calls == 1);
  nc_value_free(v);
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:load"), 0, test_loader, &ctx, &v), NC_OK);
  CHECK(ctx.calls == 1);
  nc_value_free(v);
  ctx.fail = 1;
  v = (nc_value *)0x1;
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:fail"), 0, test_loader, &ctx, &v), NC_ERR_LOADER);
  CHECK_MESSAGE_HAS("ad:fail");
  CHECK(v == (nc_value *)0x1 && ctx.calls == 2);
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:fail"), 0, NULL, &ctx, &v), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:fail"), 0, test_loader, &ctx, NULL), NC_ERR_INVALID_ARGUMENT);

  /* delete_prefix: counts; an empty prefix is refused; the count is optional. */
  CHECK_STATUS(nc_cache_delete_prefix(cache, S("ad:"), &count), NC_OK);
  CHECK(count == 4); /* ad:1, ad:2, ad:h, ad:load */
  CHECK_STATUS(nc_cache_delete_prefix(cache, S("ad:"), NULL), NC_OK);
  CHECK_STATUS(nc_cache_delete_prefix(cache, S(""), &count), NC_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(nc_cache_delete_prefix(cache, NULL, 3, &count), NC_ERR_INVALID_ARGUMENT);

  /* A closed cache: every new function says so. */
  nc_scan *open_scan = NULL;
  CHECK_STATUS(nc_cache_scan(cache, NULL, 0, &open_scan), NC_OK);
  CHECK_STATUS(nc_cache_close(cache), NC_OK);
  CHECK_STATUS(nc_cache_get_local(cache, S("ad:1"), &v), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_set_many(cache, 2, keys, lens, keys, lens, 0), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_hmget(cache, S("ad:h"), 2, keys, lens, vs), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_hgetall(cache, S("ad:h"), &r), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_delete_prefix(cache, S("ad:"), &count), NC_ERR_CLOSED);
  CHECK_STATUS(nc_cache_get_or_load(cache, S("ad:x"), 0, test_loader, &ctx, &v), NC_ERR_CLOSED);
  CHECK(ctx.calls == 2);
  CHECK_STATUS(nc_scan_next(open_scan, &v), NC_ERR_CLOSED);
  nc_scan_free(open_scan);
  nc_cache_free(cache);
}

static void test_connection_errors(void) {
  char bad_url[128];
  nc_cache *cache = NULL;
  nc_value *v = NULL;

  /* Nothing listening: NC_ERR_CONNECTION, the URL's password never shown. */
  snprintf(bad_url, sizeof bad_url, "redis://u:s3cret@127.0.0.1:%d", closed_port());
  CHECK_STATUS(nc_cache_open_url(bad_url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_connect(cache), NC_ERR_CONNECTION);
  CHECK(strstr(nc_last_error(), "s3cret") == NULL);
  CHECK_STATUS(nc_cache_get(cache, S("k"), &v), NC_ERR_CONNECTION);
  CHECK_STATUS(nc_cache_set(cache, S("k"), S("v"), 0, 0), NC_ERR_CONNECTION);
  nc_cache_free(cache);

  /* A server that accepts but never answers: NC_ERR_TIMEOUT. */
  int port = 0;
  int fd = silent_server(&port);
  snprintf(bad_url, sizeof bad_url, "redis://127.0.0.1:%d", port);
  nc_config *cfg = NULL;
  CHECK_STATUS(nc_config_new(&cfg), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "url", bad_url), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.connect_timeout", "200ms"), NC_OK);
  CHECK_STATUS(nc_config_set(cfg, "redis.command_timeout", "100ms"), NC_OK);
  CHECK_STATUS(nc_cache_open(cfg, &cache), NC_OK);
  nc_config_free(cfg);
  CHECK_STATUS(nc_cache_get(cache, S("k"), &v), NC_ERR_TIMEOUT);
  nc_cache_free(cache);
  close(fd);

  /* Authentication: none, wrong, right. */
  CHECK_STATUS(nc_cache_open_url(auth_url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("k"), &v), NC_ERR_AUTH);
  nc_cache_free(cache);
  const char *port_part = strrchr(auth_url, ':');
  snprintf(bad_url, sizeof bad_url, "redis://default:wrong@127.0.0.1%s", port_part);
  CHECK_STATUS(nc_cache_open_url(bad_url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_connect(cache), NC_ERR_AUTH);
  CHECK(strstr(nc_last_error(), "wrong@") == NULL);
  nc_cache_free(cache);
  snprintf(bad_url, sizeof bad_url, "redis://default:secret@127.0.0.1%s", port_part);
  CHECK_STATUS(nc_cache_open_url(bad_url, &cache), NC_OK);
  CHECK_STATUS(nc_cache_set(cache, S("auth:k"), S("ok"), 0, 0), NC_OK);
  CHECK_STATUS(nc_cache_get(cache, S("auth:k"), &v), NC_OK);
  CHECK(value_is(v, "ok", 2));
  nc_value_free(v);
  nc_cache_free(cache);
}

/* The test-only export of the `test-hooks` feature (tests/run.sh builds the
 * library with it); not in nearcache.h. */
nc_status nc_test_panic(const char *message);

/* A panic inside nearcache: NC_ERR_INTERNAL with core's text (the same in
 * every language), and the next call starts clean. */
static void test_panic_boundary(void) {
  nc_value *v = (nc_value *)0x1;
  CHECK_STATUS(nc_test_panic("boom"), NC_ERR_INTERNAL);
  CHECK(strcmp(nc_last_error(), "internal error (a bug in nearcache, please report it): panic: boom") == 0);
  CHECK(strcmp(nc_status_code(NC_ERR_INTERNAL), "NC_INTERNAL") == 0);
  CHECK_STATUS(nc_test_panic(NULL), NC_ERR_INVALID_ARGUMENT);
  CHECK_MESSAGE_HAS("message is NULL");
  CHECK_STATUS(nc_cache_get(NULL, S("k"), &v), NC_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nc_last_error(), "panic") == NULL);
}

/* A cache still open when the process exits, as a service's global cache
 * is: LeakSanitizer (which this suite runs under and which fails it on any
 * report) must find L1's tables and entries reachable from it. L1 tags its
 * pointers; tags in high bits once made every entry and table a "leak". */
static nc_cache *open_at_exit;

static void test_cache_open_at_exit(void) {
  open_at_exit = open_cache(url, NULL);
  char key[32];
  for (int i = 0; i < 300; i++) {
    int n = snprintf(key, sizeof key, "api:at-exit:%d", i);
    CHECK_STATUS(nc_cache_set(open_at_exit, (const uint8_t *)key, (size_t)n, S("v"), 0, 0), NC_OK);
    nc_value *v = NULL;
    CHECK_STATUS(nc_cache_get(open_at_exit, (const uint8_t *)key, (size_t)n, &v), NC_OK);
    nc_value_free(v);
  }
  /* Each read filled L1: the entries are there when the process exits. */
  char *stats = NULL;
  CHECK_STATUS(nc_cache_stats_json(open_at_exit, &stats), NC_OK);
  CHECK(stats != NULL && strstr(stats, "\"l1_entries\":300,") != NULL);
  if (stats != NULL && strstr(stats, "\"l1_entries\":300,") == NULL) fprintf(stderr, "%s\n", stats);
  nc_string_free(stats);
}

int main(void) {
  url = env_or_die("NC_TEST_URL");
  auth_url = env_or_die("NC_TEST_AUTH_URL");
  configs = env_or_die("NC_TEST_CONFIGS");
  RUN(test_version_and_codes);
  RUN(test_null_arguments);
  RUN(test_config_handle);
  RUN(test_open_variants);
  RUN(test_get_set);
  RUN(test_set_flags_and_ttl);
  RUN(test_get_many);
  RUN(test_hashes);
  RUN(test_invalidate_local);
  RUN(test_command);
  RUN(test_stats_and_config_json);
  RUN(test_closed_cache);
  RUN(test_added_functions);
  RUN(test_connection_errors);
  RUN(test_panic_boundary);
  RUN(test_cache_open_at_exit); /* last: the cache stays open */
  return harness_exit("test_api");
}
