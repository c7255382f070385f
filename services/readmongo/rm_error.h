/* rm_error — the error a readmongo request ends with, and the mapping of
 * mongo-c-driver errors (bson_error_t, error API version 2) to HTTP statuses.
 * Pure code: unit tested in tests/mongo/test_rm_error.c. */
#ifndef MUSTER_RM_ERROR_H
#define MUSTER_RM_ERROR_H

#include <bson/bson.h>
#include <stdint.h>

#define RM_ERR_MSG 512 /* longest message kept (longer ones are cut) */

/* An HTTP error: status, message, and the extras some statuses carry. */
struct rm_err {
  int status;           /* HTTP status, 0 while no error */
  int32_t code;         /* MongoDB server error code, 0 if none */
  const char *allow;    /* 405: the methods allowed (static string) */
  char msg[RM_ERR_MSG]; /* what went wrong, for {"error": msg} */
};

/* Sets err to status and a printf-style message. Returns UV_EINVAL (for
 * `return rm_err_set(...)`: the request fails, err says how). */
int rm_err_set(struct rm_err *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The HTTP status for a driver error: 504 for maxTimeMS exceeded (server
 * code 50, 262) or a socket timeout (a stream error after at least
 * socket_timeout_ms), 503 when MongoDB cannot be reached or is not ready
 * (server selection, connection, shutting down, not primary), 403 for
 * Unauthorized, 404 NamespaceNotFound, 502 for protocol and internal
 * errors, 400 for any other server error (the server refused the query). */
int rm_error_status(const bson_error_t *e, int64_t elapsed_ms, int64_t socket_timeout_ms);

/* Fills err from a driver error: the mapped status, the server code, and
 * the driver's message, prefixed by what was being done ("find db.c"). */
void rm_err_from_bson(struct rm_err *err, const bson_error_t *e, const char *doing,
                      int64_t elapsed_ms, int64_t socket_timeout_ms);

#endif
