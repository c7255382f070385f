/* util_hash — the two hashes muster's tables and choices use: FNV-1a over
 * bytes (names, paths, client addresses) and splitmix64's finaliser, a
 * fast mix in which every bit of the input moves every bit of the result
 * (sequential ids, rendezvous scores). Pure, header only. */
#ifndef MUSTER_UTIL_HASH_H
#define MUSTER_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_FNV1A_INIT 14695981039346656037ULL /* FNV-1a's 64-bit offset basis */

/* FNV-1a of p[0..n) continued from h (UTIL_FNV1A_INIT to start). */
static inline uint64_t util_fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 1099511628211ULL;
  return h;
}

/* FNV-1a of the NUL-terminated s. */
static inline uint64_t util_fnv1a_str(const char *s) {
  uint64_t h = UTIL_FNV1A_INIT;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

/* splitmix64's finaliser. */
static inline uint64_t util_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

#endif
