/* util_sha1 — SHA-1 (the WebSocket accept key, Redis script hashes) from
 * OpenSSL's libcrypto, opened the first time a digest is asked for.
 *
 * muster does not link libcrypto: mapping it costs every process about
 * 1.5 MB of resident memory (its relocations and symbol tables), which a
 * muster without WebSocket, TLS or a cluster would carry for nothing. The
 * library is dlopen'ed once per process and stays loaded. */
#ifndef MUSTER_UTIL_SHA1_H
#define MUSTER_UTIL_SHA1_H

#include <stddef.h>

#define UTIL_SHA1_LEN 20

/* out = SHA-1 of the n1 bytes at p1 followed by the n2 bytes at p2 (n2 may
 * be 0). Returns 0, or -1 when libcrypto cannot be opened or fails (the
 * first failure is reported on stderr with dlerror's reason). */
int util_sha1(const void *p1, size_t n1, const void *p2, size_t n2,
              unsigned char out[UTIL_SHA1_LEN]);

#endif
