/* util_vec — growing the arrays that modules keep as (pointer, count,
 * capacity): one doubling rule instead of a realloc loop in every file.
 *
 *   struct thing *v; size_t n, cap;
 *   if (util_vec_reserve(&v, &cap, n + 1) != 0) return UV_ENOMEM;
 *   v[n++] = x;
 *
 * Capacity doubles (from 8), so appends cost O(1) amortised; a failed
 * growth leaves the array and its capacity as they were. */
#ifndef MUSTER_UTIL_VEC_H
#define MUSTER_UTIL_VEC_H

#include <stddef.h>

/* Makes room for at least `need` elements of `elem` bytes in *base (an
 * array of *cap elements, NULL when 0). Returns 0, or UV_ENOMEM with
 * *base and *cap untouched. */
int util_vec_grow(void **base, size_t *cap, size_t need, size_t elem);

/* util_vec_grow for a typed array pointer: util_vec_reserve(&v, &cap, n). */
#define util_vec_reserve(pv, pcap, need)                                                           \
  (*(pcap) >= (size_t)(need) ? 0 : util_vec_grow((void **)(pv), (pcap), (need), sizeof(**(pv))))

#endif
