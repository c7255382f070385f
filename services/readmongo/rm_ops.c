/* rm_ops — driver calls. See rm_ops.h. Runs on the thread pool only. */
#include "rm_ops.h"

#include <string.h>
#include <uv.h>

#include "rm_json.h"

/* Microseconds now (monotonic). */
static int64_t now_us(void) {
  return bson_get_monotonic_time();
}

/* Fills r with the driver error e met while doing op. */
static void fail_bson(struct rm_result *r, const struct rm_op *op, const bson_error_t *e,
                      int64_t start_us, const struct rm_config *cfg) {
  char doing[160];
  if (op->kind == RM_HEALTH)
    snprintf(doing, sizeof(doing), "ping");
  else
    snprintf(doing, sizeof(doing), "%s %s.%s", rm_kind_name(op->kind), op->db, op->coll);
  rm_err_from_bson(&r->err, e, doing, (now_us() - start_us) / 1000, cfg->socket_timeout_ms);
  r->status = r->err.status;
}

static void fail(struct rm_result *r, int status, const char *msg) {
  rm_err_set(&r->err, status, "%s", msg);
  r->err.code = 0;
  r->status = status;
}

void rm_ops_close(struct rm_exec *x) {
  if (x->cursor) {
    mongoc_cursor_destroy(x->cursor);
    x->cursor = NULL;
  }
  if (x->coll) {
    mongoc_collection_destroy(x->coll);
    x->coll = NULL;
  }
  if (x->client) {
    mongoc_client_pool_push(x->pool, x->client);
    x->client = NULL;
  }
}

/* ---- Single-step operations ---- */

static void do_ping(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                    struct rm_result *r) {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_error_t e;
  int64_t start = now_us();
  BSON_APPEND_INT32(&cmd, "ping", 1);
  BSON_APPEND_INT64(&cmd, "maxTimeMS", cfg->health_timeout_ms);
  /* The URI's read preference: healthy means "reads can be served". */
  if (!mongoc_client_command_simple(x->client, "admin", &cmd,
                                    mongoc_client_get_read_prefs(x->client), &reply, &e))
    fail_bson(r, op, &e, start, cfg);
  else
    ipc_buf_adds(&r->out, "{\"status\":\"ok\"}");
  bson_destroy(&reply);
  bson_destroy(&cmd);
}

static void do_count(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                     struct rm_result *r) {
  bson_t opts = BSON_INITIALIZER, reply;
  bson_error_t e;
  int64_t start = now_us();
  BSON_APPEND_INT64(&opts, "maxTimeMS", cfg->max_time_ms);
  if (op->skip > 0)
    BSON_APPEND_INT64(&opts, "skip", op->skip);
  if (op->limit > 0)
    BSON_APPEND_INT64(&opts, "limit", op->limit);
  int64_t n = mongoc_collection_count_documents(x->coll, op->filter, &opts, NULL, &reply, &e);
  if (n < 0) {
    fail_bson(r, op, &e, start, cfg);
  } else {
    ipc_buf_adds(&r->out, "{\"count\":");
    ipc_buf_addi(&r->out, n);
    ipc_buf_addc(&r->out, '}');
  }
  bson_destroy(&reply);
  bson_destroy(&opts);
}

static void do_distinct(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                        struct rm_result *r) {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_error_t e;
  bson_iter_t it;
  int64_t start = now_us();
  BSON_APPEND_UTF8(&cmd, "distinct", op->coll);
  BSON_APPEND_UTF8(&cmd, "key", op->key);
  BSON_APPEND_DOCUMENT(&cmd, "query", op->filter);
  BSON_APPEND_INT64(&cmd, "maxTimeMS", cfg->max_time_ms);
  if (!mongoc_collection_read_command_with_opts(x->coll, &cmd, NULL, NULL, &reply, &e)) {
    fail_bson(r, op, &e, start, cfg);
  } else if (!bson_iter_init_find(&it, &reply, "values") || !BSON_ITER_HOLDS_ARRAY(&it)) {
    fail(r, 502, "distinct: the server's reply has no \"values\" array");
  } else {
    bson_t out = BSON_INITIALIZER;
    bson_append_iter(&out, "values", -1, &it);
    if (rm_json_append(&r->out, &out) < 0)
      fail(r, 502, "distinct: a value cannot be shown as JSON (invalid UTF-8)");
    bson_destroy(&out);
  }
  bson_destroy(&reply);
  bson_destroy(&cmd);
}

/* 1 when doc's _id is the preferred form for a GET by _id. */
static int id_preferred(const bson_t *doc, const struct rm_op *op) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "_id"))
    return 0;
  return op->id_numeric ? BSON_ITER_HOLDS_NUMBER(&it) : !BSON_ITER_HOLDS_UTF8(&it);
}

/* ---- Cursors: find, by _id, aggregate ---- */

static mongoc_cursor_t *open_cursor(struct rm_exec *x, const struct rm_config *cfg,
                                    const struct rm_op *op) {
  bson_t opts = BSON_INITIALIZER;
  mongoc_cursor_t *c;
  BSON_APPEND_INT64(&opts, "maxTimeMS", cfg->max_time_ms);
  if (op->kind == RM_AGGREGATE) {
    c = mongoc_collection_aggregate(x->coll, MONGOC_QUERY_NONE, op->pipeline, &opts, NULL);
  } else {
    if (op->projection)
      BSON_APPEND_DOCUMENT(&opts, "projection", op->projection);
    if (op->sort)
      BSON_APPEND_DOCUMENT(&opts, "sort", op->sort);
    if (op->skip > 0)
      BSON_APPEND_INT64(&opts, "skip", op->skip);
    BSON_APPEND_INT64(&opts, "limit", op->limit);
    c = mongoc_collection_find_with_opts(x->coll, op->filter, &opts, NULL);
  }
  bson_destroy(&opts);
  return c;
}

/* Emits documents of the open cursor into r: all of them (buffered, as
 * {"documents":[...]}) or about RM_CHUNK_BYTES of NDJSON lines. Sets
 * r->done at the end. */
static void emit_docs(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                      struct rm_result *r) {
  const bson_t *doc;
  bson_error_t e;
  int64_t start = now_us();
  if (!op->ndjson)
    ipc_buf_adds(&r->out, "{\"documents\":[");
  for (;;) {
    if (x->ndocs >= op->limit) { /* aggregate's cap (find has it server-side) */
      r->done = 1;
      break;
    }
    if (op->ndjson && r->out.len >= RM_CHUNK_BYTES)
      return; /* more in the next step */
    if (!mongoc_cursor_next(x->cursor, &doc)) {
      if (mongoc_cursor_error(x->cursor, &e))
        fail_bson(r, op, &e, start, cfg);
      r->done = 1;
      break;
    }
    if (!op->ndjson && x->ndocs > 0)
      ipc_buf_addc(&r->out, ',');
    if (rm_json_append(&r->out, doc) < 0) {
      fail(r, 502, "a document cannot be shown as JSON (invalid UTF-8)");
      r->done = 1;
      break;
    }
    if (op->ndjson)
      ipc_buf_addc(&r->out, '\n');
    x->ndocs++;
    if (!op->ndjson && (int64_t)r->out.len > cfg->max_response_bytes) {
      rm_err_set(&r->err, 400,
                 "%s %s.%s: the result exceeds %lld bytes (READMONGO_MAX_RESPONSE_BYTES): "
                 "lower the limit or ask for accept: application/x-ndjson",
                 rm_kind_name(op->kind), op->db, op->coll, (long long)cfg->max_response_bytes);
      r->status = 400;
      r->done = 1;
      break;
    }
  }
  if (!op->ndjson)
    ipc_buf_adds(&r->out, "]}");
}

static void do_get_id(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                      struct rm_result *r) {
  const bson_t *doc;
  bson_t *best = NULL;
  bson_error_t e;
  int64_t start = now_us();
  while (mongoc_cursor_next(x->cursor, &doc))
    if (best == NULL || id_preferred(doc, op)) {
      if (best)
        bson_destroy(best);
      best = bson_copy(doc);
    }
  if (mongoc_cursor_error(x->cursor, &e))
    fail_bson(r, op, &e, start, cfg);
  else if (best == NULL)
    fail(r, 404, "no document with that _id");
  else if (rm_json_append(&r->out, best) < 0)
    fail(r, 502, "the document cannot be shown as JSON (invalid UTF-8)");
  if (best)
    bson_destroy(best);
}

/* ---- Steps ---- */

/* Opens x for op: a client from the pool, the collection, the cursor.
 * Returns 0, or UV_EBUSY with r set (no free client). */
static int do_open(struct rm_exec *x, const struct rm_config *cfg, const struct rm_op *op,
                   struct rm_result *r) {
  /* The scheduler never has more operations open than the pool's
   * maxPoolSize, so this never waits; NULL would mean a bug there. */
  x->client = mongoc_client_pool_try_pop(x->pool);
  if (x->client == NULL) {
    fail(r, 503, "no free MongoDB client in the pool");
    return UV_EBUSY;
  }
  if (op->kind == RM_HEALTH)
    return 0;
  x->coll = mongoc_client_get_collection(x->client, op->db, op->coll);
  if (op->kind == RM_FIND || op->kind == RM_GET_ID || op->kind == RM_AGGREGATE)
    x->cursor = open_cursor(x, cfg, op);
  return 0;
}

void rm_ops_step(struct rm_exec *x, const struct rm_op *op, const struct rm_config *cfg,
                 struct rm_result *r) {
  ipc_buf_reset(&r->out);
  r->status = 200;
  r->done = 0;
  r->err.status = 0;
  r->err.code = 0;
  r->err.allow = NULL;
  if (x->client == NULL && do_open(x, cfg, op, r) < 0) {
    r->done = 1;
    rm_ops_close(x);
    return;
  }
  switch (op->kind) {
  case RM_HEALTH:
    do_ping(x, cfg, op, r);
    break;
  case RM_COUNT:
    do_count(x, cfg, op, r);
    break;
  case RM_DISTINCT:
    do_distinct(x, cfg, op, r);
    break;
  case RM_GET_ID:
    do_get_id(x, cfg, op, r);
    break;
  case RM_FIND:
  case RM_AGGREGATE:
    emit_docs(x, cfg, op, r);
    if (!r->done)
      return; /* the stream goes on: keep x open */
    break;
  }
  r->done = 1;
  if (r->out.oom && r->status < 400)
    fail(r, 500, "out of memory");
  rm_ops_close(x);
}
