/* ipc_text — text encodings the protocol needs: UTF-8 validation, JSON
 * string escaping, base64. Pure functions. */
#ifndef MUSTER_IPC_TEXT_H
#define MUSTER_IPC_TEXT_H

#include <stddef.h>

#include "ipc_buf.h"

/* Returns 1 when p[0..n) is well-formed UTF-8 without NUL bytes (a NUL
 * cannot travel in a cJSON string), else 0. */
int ipc_utf8_valid(const char *p, size_t n);

/* The count of bytes of p[0..n) that start no well-formed UTF-8
 * sequence (NUL and other ASCII are well-formed). With b not NULL, p is
 * appended to b with each of them replaced by U+FFFD, as ipc_json_str and
 * browsers' decoders replace them. */
size_t ipc_utf8_mend(const char *p, size_t n, struct ipc_buf *b);

/* Appends p[0..n) as a quoted JSON string. Control characters are escaped;
 * bytes that are not well-formed UTF-8 become U+FFFD. */
void ipc_json_str(struct ipc_buf *b, const char *p, size_t n);

/* Appends the base64 (RFC 4648, padded) encoding of p[0..n). */
void ipc_b64_encode(struct ipc_buf *b, const void *p, size_t n);

/* Decodes base64 text s[0..n) into a new buffer (owned by the caller, NUL
 * terminated for convenience) and its length. Returns NULL on malformed
 * input or out of memory. */
char *ipc_b64_decode(const char *s, size_t n, size_t *out_len);

#endif
