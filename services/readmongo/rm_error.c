/* rm_error — errors and their HTTP statuses. See rm_error.h. */
#include "rm_error.h"

#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

int rm_err_set(struct rm_err *err, int status, const char *fmt, ...) {
  va_list ap;
  err->status = status;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  return UV_EINVAL;
}

/* The status for a server error code (the server answered ok: 0). */
static int server_status(uint32_t code) {
  switch (code) {
  case 50:  /* MaxTimeMSExpired */
  case 262: /* ExceededTimeLimit */
  case 89:  /* NetworkTimeout */
    return 504;
  case 6:     /* HostUnreachable */
  case 7:     /* HostNotFound */
  case 91:    /* ShutdownInProgress */
  case 133:   /* FailedToSatisfyReadPreference */
  case 134:   /* ReadConcernMajorityNotAvailableYet */
  case 189:   /* PrimarySteppedDown */
  case 9001:  /* SocketException */
  case 10107: /* NotWritablePrimary */
  case 11600: /* InterruptedAtShutdown */
  case 11602: /* InterruptedDueToReplStateChange */
  case 13435: /* NotPrimaryNoSecondaryOk */
  case 13436: /* NotPrimaryOrSecondary */
    return 503;
  case 13: /* Unauthorized: our user may not read this namespace */
    return 403;
  case 26: /* NamespaceNotFound */
    return 404;
  case 1: /* InternalError */
  case 8: /* UnknownError */
    return 502;
  default: /* BadValue, FailedToParse, unknown operator, ...: the query */
    return 400;
  }
}

int rm_error_status(const bson_error_t *e, int64_t elapsed_ms, int64_t socket_timeout_ms) {
  switch (e->domain) {
  case MONGOC_ERROR_SERVER:
  case MONGOC_ERROR_QUERY: /* legacy error API: server codes too */
  case MONGOC_ERROR_WRITE_CONCERN:
    return server_status(e->code);
  case MONGOC_ERROR_SERVER_SELECTION:
  case MONGOC_ERROR_SASL:
  case MONGOC_ERROR_SCRAM:
  case MONGOC_ERROR_POOL:
    return 503;
  case MONGOC_ERROR_STREAM:
    /* "socket error or timeout": only a timeout takes socketTimeoutMS. */
    if (socket_timeout_ms > 0 && elapsed_ms >= socket_timeout_ms)
      return 504;
    return 503;
  case MONGOC_ERROR_CLIENT:
    if (e->code == MONGOC_ERROR_CLIENT_TOO_BIG)
      return 400;
    if (e->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
      return 503;
    return 502;
  case MONGOC_ERROR_BSON:
  case MONGOC_ERROR_COMMAND:
  case MONGOC_ERROR_NAMESPACE:
  case MONGOC_ERROR_COLLECTION:
    return 400;
  default: /* protocol, cursor, ...: a bad answer */
    return 502;
  }
}

void rm_err_from_bson(struct rm_err *err, const bson_error_t *e, const char *doing,
                      int64_t elapsed_ms, int64_t socket_timeout_ms) {
  int status = rm_error_status(e, elapsed_ms, socket_timeout_ms);
  const char *what = status == 503   ? "MongoDB unavailable"
                     : status == 504 ? "MongoDB timed out"
                                     : "MongoDB error";
  err->code =
      (e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_QUERY) ? (int32_t)e->code : 0;
  rm_err_set(err, status, "%s: %s: %s", doing, what, e->message);
}
