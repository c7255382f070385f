/* fuzz.h — what the fuzz drivers share.
 *
 * Invariants are checked with FUZZ_CHECK, not assert(): it stays on in
 * every build type (the release build defines NDEBUG) and says what broke
 * before it aborts, which libFuzzer and the replay runner both report as a
 * crash with the input that caused it. */
#ifndef MUSTER_FUZZ_H
#define MUSTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The entry point every driver defines (libFuzzer's, or replay.c's caller). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: invariant broken: %s\n  ", __FILE__, __LINE__, #cond);               \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

/* FNV-1a of the input: a stable source of choices (split sizes, ...) that
 * leaves the input's bytes all to the parser under test. */
static inline uint32_t fuzz_hash(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

#endif
