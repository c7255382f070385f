/* rm_jobs — running operations on libuv's thread pool, and answering them.
 *
 * A job is one request's operation. Jobs wait in a FIFO until one of the
 * `slots` query slots is free (slots = maxPoolSize - 1 <= threads - 1: one
 * thread and one client stay free for /_health whatever the load), then
 * run as uv_queue_work steps: the work callback calls the driver (rm_ops)
 * and the after-work callback, on the loop thread, answers the request.
 * NDJSON streams run one step per chunk and wait for the channel's
 * on_drain when ipc_service_writable() says it is full; while it is full,
 * no waiting job starts either. A cancelled job is
 * dropped when its step ends (a running driver call cannot be interrupted;
 * maxTimeMS and socketTimeoutMS bound it); an open cursor is then closed on
 * the thread pool too. Loop thread only. */
#ifndef MUSTER_RM_JOBS_H
#define MUSTER_RM_JOBS_H

#include <stddef.h>
#include <uv.h>

#include "ipc_service.h"
#include "rm_config.h"
#include "rm_route.h"

/* Sets the scheduler up: `slots` operations may run at once. */
void rm_jobs_init(uv_loop_t *loop, const struct rm_config *cfg, int slots);

/* Runs op (moved into the job: the caller's op is left empty) for req,
 * which the job answers. */
void rm_jobs_submit(struct ipc_req *req, struct rm_op *op);

/* The channel drained: resume the streams that waited for it. */
void rm_jobs_on_drain(void);

/* The pool's state changed: start or fail the waiting jobs. */
void rm_jobs_on_pool(void);

/* No new steps start (shutdown); running ones finish. */
void rm_jobs_stop(void);

/* Jobs that exist (waiting, running, paused or closing). */
size_t rm_jobs_count(void);

/* Answers req with {"error": err->msg} (and "code" when set), status,
 * allow for 405 and retry-after for 503. Completes req. Shared with
 * rm_health and rm_main. */
void rm_respond_error(struct ipc_req *req, const struct rm_err *err);

#endif
