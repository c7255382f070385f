/* util_token — the HTTP token characters (RFC 9110 §5.6.2 tchar), for
 * header names, methods and the like: ALPHA / DIGIT and
 * "!#$%&'*+-.^_`|~". One table, used by the gateway's request parser, its
 * check of what services answer, and the config's route methods. */
#ifndef MUSTER_UTIL_TOKEN_H
#define MUSTER_UTIL_TOKEN_H

#include <stddef.h>

extern const unsigned char util_tchar_table[256];

/* 1 when ch is a token character. */
static inline int util_is_tchar(unsigned char ch) {
  return util_tchar_table[ch];
}

/* 1 when s[0 .. n) is a non-empty token. */
int util_is_token(const char *s, size_t n);

#endif
