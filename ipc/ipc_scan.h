/* ipc_scan — a validating JSON scanner that allocates nothing: it finds
 * where values start and end, so hot messages can be read as spans of the
 * line (and a `json` response body copied through verbatim) without
 * building a cJSON tree. Pure code. */
#ifndef MUSTER_IPC_SCAN_H
#define MUSTER_IPC_SCAN_H

#include <stddef.h>

#include "ipc_buf.h"

#define IPC_SCAN_MAX_DEPTH 64

/* Returns the end of the JSON value starting at p (leading blanks skipped),
 * or NULL when it is not valid JSON (or nests deeper than the limit). */
const char *ipc_scan_value(const char *p, const char *end);

/* Called for each member of an object: the key's raw bytes (between the
 * quotes, escapes not decoded) and the value's span. Non-zero stops. */
typedef int (*ipc_scan_member_cb)(void *ctx, const char *key, size_t klen, const char *val,
                                  size_t vlen);

/* Scans an object that must fill [p, end) (blanks around are allowed),
 * calling cb for each member. Returns 0, UV_EINVAL when invalid, or cb's
 * non-zero value. */
int ipc_scan_object(const char *p, const char *end, ipc_scan_member_cb cb, void *ctx);

/* Decodes the JSON string literal s[0..n) (with its quotes) into out.
 * Returns 0, UV_EINVAL (not a valid string) or UV_ENOMEM (out->oom). */
int ipc_scan_string(const char *s, size_t n, struct ipc_buf *out);

/* 1 when the string literal s[0..n) holds no escape (its bytes are its
 * value, between the quotes). */
int ipc_scan_plain_string(const char *s, size_t n);

#endif
