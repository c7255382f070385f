/* util_swar — eight bytes at a time ("SIMD within a register"): the quick
 * test that lets the JSON string writer skip runs of bytes that need no
 * escaping instead of looking at each one. (Measured: the scanner's table
 * loop stays faster on the short strings it mostly reads, and so does it
 * against jumping to the exact byte with a count of trailing zeros.)
 * Portable C: an unaligned 8-byte load and a few arithmetic operations. */
#ifndef MUSTER_UTIL_SWAR_H
#define MUSTER_UTIL_SWAR_H

#include <stdint.h>
#include <string.h>

#define UTIL_SWAR_ONES 0x0101010101010101ULL
#define UTIL_SWAR_HIGH 0x8080808080808080ULL

/* Nonzero when one of the 8 bytes of v is 0 (the classic haszero). */
static inline uint64_t util_swar_zero(uint64_t v) {
  return (v - UTIL_SWAR_ONES) & ~v & UTIL_SWAR_HIGH;
}

/* Nonzero when one of the 8 bytes at p is a control byte (< 0x20), '"'
 * or '\\': what a JSON string cannot hold as it is. Bytes >= 0x80 pass
 * unless high is set, when they count too (UTF-8 to check). */
static inline uint64_t util_swar_json_special(const void *p, int high) {
  uint64_t v;
  memcpy(&v, p, 8);
  uint64_t ctl = (v - 0x2020202020202020ULL) & ~v & UTIL_SWAR_HIGH;
  uint64_t q = util_swar_zero(v ^ (UTIL_SWAR_ONES * '"'));
  uint64_t bs = util_swar_zero(v ^ (UTIL_SWAR_ONES * '\\'));
  return ctl | q | bs | (high ? v & UTIL_SWAR_HIGH : 0);
}

#endif
