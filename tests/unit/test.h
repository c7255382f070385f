/* test.h — a minimal unit-test harness (one binary per module, h2o style:
 * a test file may #include the .c under test to reach its statics).
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(a, "b"); CHECK_INT(n, 3); }
 *   int main(void) { RUN(name); return test_summary(); }
 *
 * Prints one line per failed check and a closing "N passed, N failed". */
#ifndef MUSTER_TEST_H
#define MUSTER_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed __attribute__((unused));

#define TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
  do {                                                                                             \
    test_cur_failed = 0;                                                                           \
    test_##name();                                                                                 \
    if (test_cur_failed) {                                                                         \
      test_failed++;                                                                               \
      printf("FAIL %s\n", #name);                                                                  \
    } else {                                                                                       \
      test_passed++;                                                                               \
      printf("ok   %s\n", #name);                                                                  \
    }                                                                                              \
  } while (0)

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                            \
      test_cur_failed = 1;                                                                         \
    }                                                                                              \
  } while (0)

#define CHECK_INT(a, b)                                                                            \
  do {                                                                                             \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                                  \
    if (a_ != b_) {                                                                                \
      printf("  %s:%d: %s == %" PRId64 ", expected %" PRId64 "\n", __FILE__, __LINE__, #a, a_,     \
             b_);                                                                                  \
      test_cur_failed = 1;                                                                         \
    }                                                                                              \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                         \
      printf("  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,                   \
             a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                              \
      test_cur_failed = 1;                                                                         \
    }                                                                                              \
  } while (0)

static inline int test_summary(void) {
  printf("%d passed, %d failed\n", test_passed, test_failed);
  return test_failed ? 1 : 0;
}

#endif
