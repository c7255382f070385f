/* readmongo_service — read-only MongoDB over HTTP (SPEC §7).
 *
 * Wiring: settings from the environment (rm_config), the namespace
 * allow-list (rm_guard), the client pool (rm_pool), the IPC service
 * (ipc_service: requests in, responses out), requests routed to
 * operations (rm_route) that run on libuv's thread pool (rm_jobs, rm_ops)
 * or to /_health (rm_health). The loop thread never calls the driver.
 *
 * Threads: UV_THREADPOOL_SIZE (default 16 here, set before libuv reads
 * it) threads; maxPoolSize clients (= threads unless the URI asks for
 * fewer); one thread and one client are kept for /_health, the others
 * run queries; more queries wait in a FIFO (bounded by muster's
 * max_inflight). */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ipc_service.h"
#include "rm_config.h"
#include "rm_guard.h"
#include "rm_health.h"
#include "rm_jobs.h"
#include "rm_pending.h"
#include "rm_pool.h"
#include "rm_route.h"

static struct rm_config cfg;
static struct rm_allow allow;

static const char *env(const char *name) {
  return getenv(name);
}

static void on_request(struct ipc_req *req) {
  struct rm_route_in in = {
      .method = req->method,
      .subpath = req->subpath,
      .query = req->query,
      .accept = NULL,
      .body = req->body,
      .body_len = req->body_len,
      .body_binary = req->body_binary,
  };
  in.accept = ipc_req_header(req, "accept");
  struct rm_op op;
  struct rm_err err;
  if (rm_route(&in, &cfg, &allow, &op, &err) < 0) {
    rm_respond_error(req, &err);
    return;
  }
  if (op.kind == RM_HEALTH) {
    rm_op_free(&op);
    rm_health_request(req);
    return;
  }
  rm_jobs_submit(req, &op);
}

static void on_cancel(struct ipc_req *req) {
  struct rm_pending *p = req->data;
  if (p)
    p->cancel(p);
}

static void on_drain(struct ipc_service *svc) {
  (void)svc;
  rm_jobs_on_drain();
}

static void on_pool_change(void) {
  rm_jobs_on_pool();
  rm_health_on_pool();
}

/* Reads the settings; sets UV_THREADPOOL_SIZE before libuv reads it (at
 * the first uv_queue_work). Returns 0 or UV_EINVAL (message printed). */
static int setup(void) {
  char err[512];
  if (rm_config_load(&cfg, env, err, sizeof(err)) < 0 ||
      rm_allow_parse(&allow, cfg.allow, err, sizeof(err)) < 0) {
    fprintf(stderr, "readmongo: %s\n", err);
    return UV_EINVAL;
  }
  if (cfg.threads_defaulted) {
    char n[16];
    snprintf(n, sizeof(n), "%d", cfg.threads);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  }
  return 0;
}

int main(void) {
  char err[512], redacted[1024];
  uv_loop_t *loop = uv_default_loop();
  mongoc_init();
  if (setup() < 0)
    goto out_cleanup;
  int conc = rm_pool_setup(loop, &cfg, on_pool_change, err, sizeof(err));
  if (conc < 0) {
    fprintf(stderr, "readmongo: %s\n", err);
    goto out_free_allow;
  }
  struct ipc_service_cbs cbs = {
      .on_request = on_request, .on_cancel = on_cancel, .on_drain = on_drain};
  struct ipc_service *svc = ipc_service_new(loop, &cbs, NULL);
  if (svc == NULL)
    goto out_free_pool;
  rm_config_redact_uri(cfg.uri, redacted, sizeof(redacted));
  fprintf(stderr,
          "readmongo: %s, mongoc %s, %d threads, %d clients (%d for queries, 1 for /_health), "
          "maxTimeMS %lld, socketTimeoutMS %lld, max limit %lld\n",
          redacted, mongoc_get_version(), cfg.threads, conc, conc - 1, (long long)cfg.max_time_ms,
          (long long)cfg.socket_timeout_ms, (long long)cfg.max_limit);
  rm_jobs_init(loop, &cfg, conc - 1);
  rm_health_init(loop, &cfg);
  rm_pool_connect();
  ipc_service_ready(svc);
  int rc = ipc_service_run(svc); /* frees svc; in-flight requests are done */
  /* Cancelled operations may still run on the thread pool: let them end
   * (maxTimeMS / socketTimeoutMS bound them), then free the pool. */
  rm_jobs_stop();
  rm_health_stop();
  rm_pool_stop();
  uv_run(loop, UV_RUN_DEFAULT);
  rm_health_free();
  rm_pool_free();
  rm_allow_free(&allow);
  uv_loop_close(loop);
  mongoc_cleanup();
  return rc;

out_free_pool:
  rm_pool_free();
out_free_allow:
  rm_allow_free(&allow);
out_cleanup:
  mongoc_cleanup();
  return 1;
}
