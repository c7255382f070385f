/* rm_route — from a request (method, path after the prefix, query,
 * accept header, body) to the operation to run (SPEC §7), or the error to
 * answer: 404 unknown path, 405 method, 403 namespace, 400 parameters,
 * JSON or refused operators. Pure code: unit tested in
 * tests/mongo/test_rm_route.c. */
#ifndef MUSTER_RM_ROUTE_H
#define MUSTER_RM_ROUTE_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_config.h"
#include "rm_error.h"
#include "rm_guard.h"

enum rm_kind {
  RM_FIND = 0,  /* GET /{db}/{coll}?filter&projection&sort&limit&skip */
  RM_GET_ID,    /* GET /{db}/{coll}/{id} */
  RM_COUNT,     /* GET /{db}/{coll}/_count?filter */
  RM_DISTINCT,  /* GET /{db}/{coll}/_distinct?key&filter */
  RM_AGGREGATE, /* POST /{db}/{coll}/_aggregate, body: pipeline */
  RM_HEALTH,    /* GET /_health: ping */
};

/* What a request asks for. Every pointer is owned (rm_op_free). */
struct rm_op {
  enum rm_kind kind;
  char *db, *coll;    /* decoded names; NULL for RM_HEALTH */
  bson_t *filter;     /* find, id, count, distinct: never NULL */
  bson_t *projection; /* find, id: NULL if none */
  bson_t *sort;       /* find: NULL if none */
  bson_t *pipeline;   /* aggregate: the array, as a document */
  char *key;          /* distinct: the field */
  int64_t limit;      /* find: 1..max_limit; id: candidates; aggregate:
                         documents kept (max_limit); count: 0 = none */
  int64_t skip;       /* find, count */
  int id_numeric;     /* id: prefer a numeric _id over its string form */
  int ndjson;         /* find, aggregate: stream one document per line */
};

/* The parts of a request the route looks at (all borrowed). */
struct rm_route_in {
  const char *method;
  const char *subpath; /* "/db/coll/..." (percent-escaped) */
  const char *query;   /* raw, without "?" */
  const char *accept;  /* the accept header, NULL if none */
  const char *body;
  size_t body_len;
  int body_binary; /* the body is not UTF-8 */
};

/* Fills op from in. Returns 0, or UV_EINVAL with err set (op left empty). */
int rm_route(const struct rm_route_in *in, const struct rm_config *cfg,
             const struct rm_allow *allow, struct rm_op *op, struct rm_err *err);

/* Releases what op owns and empties it. */
void rm_op_free(struct rm_op *op);

/* "find", "count", ...: the operation's name for messages. */
const char *rm_kind_name(enum rm_kind kind);

#endif
