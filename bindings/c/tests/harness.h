/*
 * A tiny assert harness for the C tests: CHECK / CHECK_STATUS count and
 * report failures without stopping, RUN runs one test function, and
 * harness_exit() prints the totals and gives the exit status.
 */
#ifndef NC_TEST_HARNESS_H
#define NC_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nearcache.h"

static int h_checks;
static int h_failures;
static int h_tests;

#define CHECK(cond)                                                              \
  do {                                                                           \
    h_checks++;                                                                  \
    if (!(cond)) {                                                               \
      h_failures++;                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

/* Checks that `call` returns `expected`; on failure prints the status's code
 * and this thread's message. */
#define CHECK_STATUS(call, expected)                                             \
  do {                                                                           \
    nc_status s_ = (call);                                                       \
    h_checks++;                                                                  \
    if (s_ != (expected)) {                                                      \
      h_failures++;                                                              \
      fprintf(stderr, "%s:%d: %s\n  returned %s (%d), expected %s; message: %s\n", \
              __FILE__, __LINE__, #call, nc_status_code((int)s_), (int)s_,       \
              #expected, nc_last_error());                                       \
    }                                                                            \
  } while (0)

/* Checks that the last call's message contains `needle`. */
#define CHECK_MESSAGE_HAS(needle)                                                \
  do {                                                                           \
    const char *m_ = nc_last_error();                                            \
    h_checks++;                                                                  \
    if (m_ == NULL || strstr(m_, (needle)) == NULL) {                            \
      h_failures++;                                                              \
      fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,          \
              __LINE__, m_ ? m_ : "(null)", (needle));                           \
    }                                                                            \
  } while (0)

#define RUN(test)                                                                \
  do {                                                                           \
    int before_ = h_failures;                                                    \
    h_tests++;                                                                   \
    test();                                                                      \
    printf("%-40s %s\n", #test, h_failures == before_ ? "ok" : "FAILED");        \
    fflush(stdout);                                                              \
  } while (0)

static inline int harness_exit(const char *suite) {
  printf("%s: %d tests, %d checks, %d failures\n", suite, h_tests, h_checks, h_failures);
  return h_failures == 0 ? 0 : 1;
}

/* Keys and values as (pointer, length) from string literals. */
#define S(lit) (const uint8_t *)(lit), (sizeof(lit) - 1)

static inline const char *env_or_die(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') {
    fprintf(stderr, "environment variable %s is not set (run tests/run.sh)\n", name);
    exit(2);
  }
  return v;
}

/* True when the value handle holds exactly `len` bytes equal to `data`. */
static inline int value_is(const nc_value *v, const void *data, size_t len) {
  return v != NULL && nc_value_len(v) == len && (len == 0 || memcmp(nc_value_data(v), data, len) == 0);
}

#endif
