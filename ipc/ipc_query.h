/* ipc_query — reading parameters out of a raw query string ("a=1&b=x%20y").
 * Pure code, for services answering `request` messages. */
#ifndef MUSTER_IPC_QUERY_H
#define MUSTER_IPC_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* Finds parameter `name` in query and copies its percent-decoded value
 * ("+" is a space) into out (NUL-terminated, at most outlen-1 bytes).
 * Returns the decoded length, UV_ENOENT if the parameter is absent,
 * UV_ENOBUFS if the value does not fit or UV_EINVAL if it is badly
 * encoded. */
int ipc_query_get(const char *query, const char *name, char *out, size_t outlen);

/* Reads parameter `name` as a decimal integer in [min, max]. Returns 0 and
 * sets *out, 1 when absent (*out = def), or UV_EINVAL when present but
 * invalid. */
int ipc_query_int(const char *query, const char *name, int64_t min, int64_t max, int64_t def,
                  int64_t *out);

/* The value of hex digit c, or -1 when c is not one (percent-decoding). */
int ipc_query_hexval(char c);

#endif
