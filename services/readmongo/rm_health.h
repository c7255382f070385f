/* rm_health — GET /_health: 200 {"status":"ok"} when MongoDB answers
 * `ping` (with the URI's read preference), else 503.
 *
 * One probe runs at a time and answers every waiting request; each request
 * also has its own deadline (READMONGO_HEALTH_TIMEOUT_MS, default 1 s)
 * after which it gets 503 even though the probe still waits (a stalled
 * server, server selection in progress). The probe runs on the thread
 * pool outside the query slots (rm_jobs keeps one thread and one client
 * for it), so 50 stalled queries never delay it. Loop thread only. */
#ifndef MUSTER_RM_HEALTH_H
#define MUSTER_RM_HEALTH_H

#include <uv.h>

#include "ipc_service.h"
#include "rm_config.h"

void rm_health_init(uv_loop_t *loop, const struct rm_config *cfg);

/* Answers req (now, at its deadline or when the probe ends). */
void rm_health_request(struct ipc_req *req);

/* The pool's state changed: start the probe or fail the waiters. */
void rm_health_on_pool(void);

/* No new probes (shutdown). */
void rm_health_stop(void);
/* Releases the probe's buffer: once no work is left on the thread pool. */
void rm_health_free(void);

#endif
