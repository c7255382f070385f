/* rm_pool — the process's one mongoc_client_pool_t, made from MONGODB_URI.
 *
 * The URI passes through (hosts, replicaSet, readPreference, TLS, auth,
 * mongodb+srv://); readmongo only adds what it needs when the URI does not
 * say: appname=readmongo, socketTimeoutMS = READMONGO_MAX_TIME_MS + 1000
 * (a stalled server cannot hold a thread for the default 5 minutes),
 * serverSelectionTimeoutMS = max(READMONGO_MAX_TIME_MS, 1000), and
 * maxPoolSize = the thread pool size (one client per thread: popping never
 * waits). Creating the pool may block (mongodb+srv:// resolves DNS), so it
 * runs on the thread pool; if it fails, the next request retries it (at
 * most once a second) and requests meanwhile get 503. Loop thread only. */
#ifndef MUSTER_RM_POOL_H
#define MUSTER_RM_POOL_H

#include <mongoc/mongoc.h>
#include <uv.h>

#include "rm_config.h"
#include "rm_error.h"

enum rm_pool_state {
  RM_POOL_NONE = 0, /* not created yet (or the last attempt failed) */
  RM_POOL_CREATING, /* an attempt runs on the thread pool */
  RM_POOL_READY,    /* rm_pool_get() is usable */
};

/* Parses cfg->uri and applies the defaults above; sets
 * cfg->socket_timeout_ms and returns the client concurrency (maxPoolSize,
 * at most cfg->threads), or UV_EINVAL with a message in err (a URI that
 * does not parse: a configuration error). on_change is called (loop
 * thread) after each creation attempt. */
int rm_pool_setup(uv_loop_t *loop, struct rm_config *cfg, void (*on_change)(void), char *err,
                  size_t errlen);

/* Starts a creation attempt unless the pool exists, one runs, or the last
 * failed less than a second ago (and stopping is not set). Returns the
 * state after the call. */
enum rm_pool_state rm_pool_connect(void);

enum rm_pool_state rm_pool_state(void);

/* What a request that needs the pool finds: its state, after starting an
 * attempt when there is no pool (rm_pool_connect). For RM_POOL_NONE (none
 * can be made now) err is set to the 503 to answer. */
enum rm_pool_state rm_pool_want(struct rm_err *err);
/* The pool (RM_POOL_READY) or NULL. */
mongoc_client_pool_t *rm_pool_get(void);

/* No more attempts (shutdown). */
void rm_pool_stop(void);
/* Destroys the pool and the URI. Every client must be back: call it once
 * no work is left on the thread pool. */
void rm_pool_free(void);

#endif
