/* rm_ops — the mongo-c-driver calls, run on libuv's thread pool.
 *
 * Everything here blocks (server selection, network round trips) and is
 * called only from a uv_queue_work work callback, never on the loop
 * thread. It touches neither cJSON nor the channel: a step leaves the
 * response body bytes (or an error) in a struct rm_result for the loop
 * thread to send. One operation runs as one step, except NDJSON streams,
 * which run one step per ~64 KiB of output so that the loop can apply
 * backpressure between steps; the client and cursor stay open in the
 * struct rm_exec between them (a mongoc_client_t may move between threads
 * as long as one thread at a time uses it). */
#ifndef MUSTER_RM_OPS_H
#define MUSTER_RM_OPS_H

#include <mongoc/mongoc.h>

#include "ipc_buf.h"
#include "rm_config.h"
#include "rm_error.h"
#include "rm_route.h"

#define RM_CHUNK_BYTES (64 << 10) /* NDJSON output per step (at least one document) */

/* One operation's driver state. Zeroed, then `pool` set, before step 1. */
struct rm_exec {
  mongoc_client_pool_t *pool; /* where the client comes from */
  mongoc_client_t *client;    /* popped while the operation is open */
  mongoc_collection_t *coll;  /* the namespace, while open */
  mongoc_cursor_t *cursor;    /* find / aggregate in progress */
  int64_t ndocs;              /* documents emitted so far */
};

/* What a step produced. ipc_buf_init(&out) before the first step. */
struct rm_result {
  int status;         /* 200 (or 404 for an _id not found) or the error's */
  struct rm_err err;  /* the error when status >= 400 */
  struct ipc_buf out; /* the body (buffered) or the next NDJSON lines */
  int done;           /* the operation is over and x is closed */
};

/* Runs the next step of op (the whole operation unless op->ndjson). On
 * error or at the end the exec is closed (client back to the pool). */
void rm_ops_step(struct rm_exec *x, const struct rm_op *op, const struct rm_config *cfg,
                 struct rm_result *r);

/* Closes an exec left open by a stream that will not go on: destroys the
 * cursor (killCursors on the server), gives the client back. Blocking. */
void rm_ops_close(struct rm_exec *x);

#endif
