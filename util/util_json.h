/* util_json — reading integers out of cJSON values exactly, and the
 * escapes cJSON cannot keep or refuses.
 *
 * cJSON keeps every number as a double, so "an integer field" means a
 * number with no fractional part within +-2^53 (beyond that, doubles skip
 * integers and two different texts read as one value). Every module that
 * takes integers from JSON (config, IPC messages, control commands) uses
 * this one rule. */
#ifndef MUSTER_UTIL_JSON_H
#define MUSTER_UTIL_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define UTIL_JSON_INT_MAX 9007199254740992LL /* 2^53 */

/* Sets *out to v's value when v is a number holding an exact integer in
 * [-2^53, 2^53]. Returns 0, or UV_EINVAL (not an integer number) or
 * UV_ERANGE (an integer beyond +-2^53) with *out untouched. */
int util_json_int(const cJSON *v, int64_t *out);

/* The offset of the first "\u0000" escape in the JSON text t[0..n) (a
 * backslash is only ever inside a string of valid JSON), or n when there
 * is none. cJSON keeps strings as C strings and ends one there ("a\u0000b"
 * reads as "a"): the config and control requests refuse such text. */
size_t util_json_nul_escape(const char *t, size_t n);

/* Reads the four hex digits of a "\uXXXX" escape at p (before end) into
 * *out. Returns 0 or UV_EINVAL. */
int util_json_hex4(const char *p, const char *end, unsigned *out);

/* The count of "\uD800".."\uDFFF" escapes in the JSON text t[0..n) that
 * are not a high surrogate followed at once by a low one. JavaScript's
 * JSON.stringify writes such a lone half of a pair (a string cut in the
 * middle of an emoji) and JSON.parse takes it; cJSON refuses the whole
 * text. With out (n bytes) not NULL, t is copied there with each one
 * replaced by "\ufffd", the same length: U+FFFD, which is what Node
 * and browsers send for it when they encode such a string as UTF-8. */
size_t util_json_lone_surrogates(const char *t, size_t n, char *out);

#endif
