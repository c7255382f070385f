/* rm_pool — the client pool. See rm_pool.h. */
#include "rm_pool.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#define RETRY_MS 1000 /* least time between two creation attempts */

static struct {
  uv_loop_t *loop;
  mongoc_uri_t *uri;          /* owned */
  mongoc_client_pool_t *pool; /* owned, once READY */
  enum rm_pool_state state;
  uint64_t last_attempt; /* uv_now of the last attempt; 0 if none */
  int attempted;         /* an attempt was made */
  int stopping;
  void (*on_change)(void);
  uv_work_t work;                /* the creation attempt */
  mongoc_client_pool_t *created; /* result of the attempt (worker writes) */
  bson_error_t error;            /* its error (worker writes) */
  char errmsg[sizeof(((bson_error_t *)0)->message)];
} P;

/* Sets an int32 URI option unless the URI has it. */
static void default_int(const char *name, int32_t v) {
  if (!mongoc_uri_has_option(P.uri, name))
    mongoc_uri_set_option_as_int32(P.uri, name, v);
}

int rm_pool_setup(uv_loop_t *loop, struct rm_config *cfg, void (*on_change)(void), char *err,
                  size_t errlen) {
  bson_error_t e;
  memset(&P, 0, sizeof(P));
  P.loop = loop;
  P.on_change = on_change;
  P.uri = mongoc_uri_new_with_error(cfg->uri, &e);
  if (P.uri == NULL) {
    snprintf(err, errlen, "MONGODB_URI: %s", e.message);
    return UV_EINVAL;
  }
  int64_t st = cfg->max_time_ms + 1000;
  int64_t sst = cfg->max_time_ms < 1000 ? 1000 : cfg->max_time_ms;
  default_int(MONGOC_URI_SOCKETTIMEOUTMS, st > INT32_MAX ? INT32_MAX : (int32_t)st);
  default_int(MONGOC_URI_SERVERSELECTIONTIMEOUTMS, sst > INT32_MAX ? INT32_MAX : (int32_t)sst);
  if (mongoc_uri_get_appname(P.uri) == NULL)
    mongoc_uri_set_appname(P.uri, "readmongo");
  int32_t conc = cfg->threads;
  int32_t max = mongoc_uri_get_option_as_int32(P.uri, MONGOC_URI_MAXPOOLSIZE, 0);
  if (max > 0 && max < conc)
    conc = max < 2 ? 2 : max;
  mongoc_uri_set_option_as_int32(P.uri, MONGOC_URI_MAXPOOLSIZE, conc);
  cfg->socket_timeout_ms =
      mongoc_uri_get_option_as_int32(P.uri, MONGOC_URI_SOCKETTIMEOUTMS, 300000);
  return conc;
}

/* Thread pool: create the pool (may resolve DNS for mongodb+srv://). */
static void on_create_work(uv_work_t *w) {
  (void)w;
  P.created = mongoc_client_pool_new_with_error(P.uri, &P.error);
  if (P.created != NULL) {
    mongoc_client_pool_set_error_api(P.created, MONGOC_ERROR_API_VERSION_2);
  }
}

static void on_create_done(uv_work_t *w, int status) {
  (void)w;
  (void)status;
  if (P.created != NULL) {
    P.pool = P.created;
    P.created = NULL;
    P.state = RM_POOL_READY;
    P.errmsg[0] = '\0';
  } else {
    P.state = RM_POOL_NONE;
    snprintf(P.errmsg, sizeof(P.errmsg), "%s", P.error.message);
    fprintf(stderr, "readmongo: cannot create the MongoDB client pool: %s\n", P.errmsg);
  }
  if (P.on_change)
    P.on_change();
}

enum rm_pool_state rm_pool_connect(void) {
  if (P.state != RM_POOL_NONE || P.stopping)
    return P.state;
  uint64_t now = uv_now(P.loop);
  if (P.attempted && now - P.last_attempt < RETRY_MS)
    return P.state;
  P.attempted = 1;
  P.last_attempt = now;
  if (uv_queue_work(P.loop, &P.work, on_create_work, on_create_done) != 0) {
    snprintf(P.errmsg, sizeof(P.errmsg), "cannot queue the pool creation");
    return P.state;
  }
  P.state = RM_POOL_CREATING;
  return P.state;
}

enum rm_pool_state rm_pool_state(void) {
  return P.state;
}

enum rm_pool_state rm_pool_want(struct rm_err *err) {
  enum rm_pool_state st = P.state == RM_POOL_NONE ? rm_pool_connect() : P.state;
  if (st == RM_POOL_NONE) {
    memset(err, 0, sizeof(*err));
    rm_err_set(err, 503, "MongoDB unavailable: cannot create the client pool: %s", P.errmsg);
  }
  return st;
}

mongoc_client_pool_t *rm_pool_get(void) {
  return P.state == RM_POOL_READY ? P.pool : NULL;
}

void rm_pool_stop(void) {
  P.stopping = 1;
}

void rm_pool_free(void) {
  if (P.pool)
    mongoc_client_pool_destroy(P.pool);
  P.pool = NULL;
  if (P.uri)
    mongoc_uri_destroy(P.uri);
  P.uri = NULL;
  P.state = RM_POOL_NONE;
}
