/* Unit tests for rm_route (and the JSON input of rm_json): paths, methods,
 * parameters, _id forms, JSON errors with positions, refused operators. */
#include "rm_route.h"

#include <stdlib.h>

#include "rm_json.h"
#include "test.h"

static struct rm_config cfg;
static struct rm_allow allow;

static void setup(void) {
  char err[256];
  memset(&cfg, 0, sizeof(cfg));
  cfg.max_limit = 100;
  cfg.max_time_ms = 5000;
  if (rm_allow_parse(&allow, NULL, err, sizeof(err)) != 0)
    printf("allow: %s\n", err);
}

/* Routes method+path+query (and body, accept) into op; returns the status
 * (0 when routed). */
static int route(const char *method, const char *path, const char *query, const char *body,
                 const char *accept, struct rm_op *op, struct rm_err *err) {
  struct rm_route_in in = {method, path, query, accept, body, strlen(body), 0};
  return rm_route(&in, &cfg, &allow, op, err) == 0 ? 0 : err->status;
}

static int get(const char *path, const char *query, struct rm_op *op, struct rm_err *err) {
  return route("GET", path, query, "", NULL, op, err);
}

/* The relaxed JSON of doc (static buffer) or "(null)". */
static const char *json(const bson_t *doc) {
  static char buf[1024];
  if (doc == NULL)
    return "(null)";
  char *s = bson_as_relaxed_extended_json(doc, NULL);
  snprintf(buf, sizeof(buf), "%s", s);
  bson_free(s);
  return buf;
}

TEST(find_with_every_parameter) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/coll",
                "filter=%7B%22a%22%3A1%7D&projection={\"a\":1}&sort={\"b\":-1}&limit=5&skip=2", &op,
                &err),
            0);
  CHECK_INT(op.kind, RM_FIND);
  CHECK_STR(op.db, "db");
  CHECK_STR(op.coll, "coll");
  CHECK_STR(json(op.filter), "{ \"a\" : 1 }");
  CHECK_STR(json(op.projection), "{ \"a\" : 1 }");
  CHECK_STR(json(op.sort), "{ \"b\" : -1 }");
  CHECK_INT(op.limit, 5);
  CHECK_INT(op.skip, 2);
  CHECK_INT(op.ndjson, 0);
  rm_op_free(&op);
}

TEST(find_defaults_and_limit_cap) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/coll/", "", &op, &err), 0); /* a trailing slash is fine */
  CHECK_STR(json(op.filter), "{ }");
  CHECK(op.projection == NULL && op.sort == NULL);
  CHECK_INT(op.limit, 100); /* no limit: the cap */
  CHECK_INT(op.skip, 0);
  rm_op_free(&op);
  CHECK_INT(get("/db/coll", "limit=100000", &op, &err), 0);
  CHECK_INT(op.limit, 100);
  rm_op_free(&op);
  CHECK_INT(get("/db/coll", "limit=0", &op, &err), 0);
  CHECK_INT(op.limit, 100);
  rm_op_free(&op);
  CHECK_INT(get("/db/coll", "limit=-1", &op, &err), 400);
  CHECK_STR(err.msg, "limit: must be an integer >= 0");
  CHECK_INT(get("/db/coll", "skip=x", &op, &err), 400);
  CHECK_INT(get("/db/coll", "limit=1&limit=2", &op, &err), 400);
  CHECK_STR(err.msg, "parameter \"limit\" given twice");
  CHECK_INT(get("/db/coll", "fliter={}", &op, &err), 400);
  CHECK_STR(err.msg, "unknown parameter \"fliter\"");
}

TEST(percent_decoding_of_path_segments) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/my%20db/a%2Fb.c", "", &op, &err), 400); /* space: not a db name */
  CHECK_INT(get("/mydb/a%2Fb.c", "", &op, &err), 0);
  CHECK_STR(op.coll, "a/b.c");
  rm_op_free(&op);
  CHECK_INT(get("/mydb/x/caf%C3%A9", "", &op, &err), 0);
  CHECK_INT(op.kind, RM_GET_ID);
  CHECK_STR(json(op.filter), "{ \"_id\" : \"caf\xc3\xa9\" }");
  rm_op_free(&op);
  CHECK_INT(get("/mydb/x/%zz", "", &op, &err), 400);
  CHECK_INT(get("/mydb/x/a%00b", "", &op, &err), 400);
  CHECK_INT(get("/mydb/x/%4", "", &op, &err), 400);
}

TEST(paths_that_are_not_endpoints) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/", "", &op, &err), 404);
  CHECK_INT(get("/db", "", &op, &err), 404);
  CHECK_INT(get("/db//x", "", &op, &err), 404);
  CHECK_INT(get("/a/b/c/d", "", &op, &err), 404);
  CHECK_INT(get("/_healthz", "", &op, &err), 404);
  CHECK_INT(get("/db/$cmd", "", &op, &err), 400);
  CHECK_INT(get("/d.b/c", "", &op, &err), 400);
}

TEST(methods) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(route("POST", "/db/c", "", "", NULL, &op, &err), 405);
  CHECK_STR(err.allow, "GET, HEAD");
  CHECK_INT(route("GET", "/db/c/_aggregate", "", "", NULL, &op, &err), 405);
  CHECK_STR(err.allow, "POST");
  CHECK_INT(route("DELETE", "/db/c/1", "", "", NULL, &op, &err), 405);
  CHECK_INT(route("HEAD", "/db/c/_count", "", "", NULL, &op, &err), 0);
  rm_op_free(&op);
  CHECK_INT(route("GET", "/_health", "", "", NULL, &op, &err), 0);
  CHECK_INT(op.kind, RM_HEALTH);
  rm_op_free(&op);
  CHECK_INT(route("POST", "/_health", "", "", NULL, &op, &err), 405);
}

TEST(ids) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/c/0123456789abcdef01234567", "", &op, &err), 0);
  CHECK_STR(json(op.filter),
            "{ \"_id\" : { \"$in\" : [ { \"$oid\" : \"0123456789abcdef01234567\" }, "
            "\"0123456789abcdef01234567\" ] } }");
  CHECK_INT(op.limit, 2);
  CHECK_INT(op.id_numeric, 0);
  rm_op_free(&op);
  CHECK_INT(get("/db/c/-42", "", &op, &err), 0);
  CHECK_STR(json(op.filter), "{ \"_id\" : { \"$in\" : [ -42, \"-42\" ] } }");
  CHECK_INT(op.id_numeric, 1);
  rm_op_free(&op);
  CHECK_INT(get("/db/c/12345678901", "", &op, &err), 0);
  CHECK_STR(json(op.filter), "{ \"_id\" : { \"$in\" : [ 12345678901, \"12345678901\" ] } }");
  rm_op_free(&op);
  CHECK_INT(get("/db/c/007", "", &op, &err), 0); /* not canonical: a string */
  CHECK_STR(json(op.filter), "{ \"_id\" : \"007\" }");
  CHECK_INT(op.limit, 1);
  rm_op_free(&op);
  CHECK_INT(get("/db/c/99999999999999999999", "", &op, &err), 0); /* overflows: string */
  CHECK_STR(json(op.filter), "{ \"_id\" : \"99999999999999999999\" }");
  rm_op_free(&op);
  CHECK_INT(get("/db/c/abc", "projection={\"a\":0}", &op, &err), 0);
  CHECK_STR(json(op.projection), "{ \"a\" : 0 }");
  rm_op_free(&op);
  CHECK_INT(get("/db/c/abc", "filter={}", &op, &err), 400);
}

TEST(count_distinct_aggregate) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/c/_count", "filter={\"x\":{\"$gt\":1}}", &op, &err), 0);
  CHECK_INT(op.kind, RM_COUNT);
  CHECK_STR(json(op.filter), "{ \"x\" : { \"$gt\" : 1 } }");
  CHECK_INT(op.limit, 0);
  rm_op_free(&op);
  CHECK_INT(get("/db/c/_distinct", "key=a.b", &op, &err), 0);
  CHECK_INT(op.kind, RM_DISTINCT);
  CHECK_STR(op.key, "a.b");
  CHECK_STR(json(op.filter), "{ }");
  rm_op_free(&op);
  CHECK_INT(get("/db/c/_distinct", "", &op, &err), 400);
  CHECK_INT(get("/db/c/_distinct", "key=", &op, &err), 400);
  CHECK_INT(route("POST", "/db/c/_aggregate", "", "[{\"$match\":{}},{\"$limit\":2}]",
                  "application/x-ndjson", &op, &err),
            0);
  CHECK_INT(op.kind, RM_AGGREGATE);
  CHECK_STR(json(op.pipeline), "{ \"0\" : { \"$match\" : {  } }, \"1\" : { \"$limit\" : 2 } }");
  CHECK_INT(op.ndjson, 1);
  CHECK_INT(op.limit, 100);
  rm_op_free(&op);
  CHECK_INT(route("POST", "/db/c/_aggregate", "", "{\"$match\":{}}", NULL, &op, &err), 400);
  CHECK_INT(route("POST", "/db/c/_aggregate", "", "", NULL, &op, &err), 400);
}

TEST(ndjson_accept) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(route("GET", "/db/c", "", "", "text/html, Application/X-NDJSON;q=0.9", &op, &err), 0);
  CHECK_INT(op.ndjson, 1);
  rm_op_free(&op);
  CHECK_INT(route("GET", "/db/c", "", "", "application/json", &op, &err), 0);
  CHECK_INT(op.ndjson, 0);
  rm_op_free(&op);
}

TEST(invalid_json_names_the_parameter_and_position) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/c", "filter={\"a\":1,}", &op, &err), 400);
  CHECK_STR(err.msg,
            "filter: invalid JSON: Got parse error at \"}\", position 7: \"TRAILING_COMMA\"");
  CHECK_INT(get("/db/c", "sort={\"a\":", &op, &err), 400);
  CHECK_STR(err.msg, "sort: invalid JSON: Incomplete JSON (input ends at position 5)");
  CHECK_INT(get("/db/c", "filter=[1]", &op, &err), 400);
  CHECK_STR(err.msg, "filter: must be a JSON object (position 0: '[')");
  CHECK_INT(get("/db/c", "filter={}{}", &op, &err), 400);
  CHECK_STR(err.msg, "filter: invalid JSON: unexpected data after the object");
  CHECK_INT(get("/db/c", "filter=", &op, &err), 400);
  CHECK_INT(get("/db/c", "filter={\"_id\":{\"$oid\":\"zz\"}}", &op, &err), 400);
  CHECK(strstr(err.msg, "looking for OID") != NULL);
  CHECK_INT(get("/db/c", "filter=%7B%22a%22%3A%00%7D", &op, &err), 400);
  CHECK_INT(route("POST", "/db/c/_aggregate", "", "[{\"$match\":{}}", NULL, &op, &err), 400);
  CHECK(strncmp(err.msg, "pipeline: invalid JSON", 22) == 0);
}

TEST(extended_json_input) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/db/c",
                "filter={\"t\":{\"$gte\":{\"$date\":\"2020-01-01T00:00:00Z\"}},"
                "\"n\":{\"$numberLong\":\"5\"}}",
                &op, &err),
            0);
  CHECK_STR(json(op.filter),
            "{ \"t\" : { \"$gte\" : { \"$date\" : \"2020-01-01T00:00:00Z\" } }, \"n\" : 5 }");
  rm_op_free(&op);
}

TEST(refused_operators_and_namespaces) {
  struct rm_op op;
  struct rm_err err;
  CHECK_INT(get("/admin/c", "", &op, &err), 403);
  CHECK_STR(err.msg, "namespace admin.c is not allowed");
  CHECK_INT(get("/local/oplog.rs", "", &op, &err), 403);
  CHECK_INT(get("/config/x/_count", "", &op, &err), 403);
  CHECK_INT(get("/db/c", "filter={\"$or\":[{\"a\":1},{\"$where\":\"1\"}]}", &op, &err), 400);
  CHECK_STR(err.msg,
            "filter.$or.1.$where: $where is refused: server-side JavaScript is not allowed");
  CHECK_INT(get("/db/c", "projection={\"x\":{\"$function\":{}}}", &op, &err), 400);
  CHECK_INT(route("POST", "/db/c/_aggregate", "",
                  "[{\"$facet\":{\"a\":[{\"$match\":{}}],\"b\":[{\"$out\":\"x\"}]}}]", NULL, &op,
                  &err),
            400);
  CHECK_STR(err.msg, "pipeline.0.$facet.b.0.$out: $out is refused: writes are not allowed");
  CHECK_INT(route("POST", "/db/c/_aggregate", "",
                  "[{\"$lookup\":{\"from\":\"system.users\","
                  "\"as\":\"u\",\"localField\":\"a\",\"foreignField\":\"b\"}}]",
                  NULL, &op, &err),
            403);
  /* A denied namespace wins over bad parameters. */
  CHECK_INT(get("/admin/c", "filter={", &op, &err), 403);
}

TEST(utf8_cut) {
  const char *s = "ab\xc3\xa9"
                  "cd"; /* "abécd" */
  CHECK_INT(rm_json_utf8_cut(s, 6, 10), 6);
  CHECK_INT(rm_json_utf8_cut(s, 6, 3), 2); /* not inside é */
  CHECK_INT(rm_json_utf8_cut(s, 6, 4), 4);
  CHECK_INT(rm_json_utf8_cut(s, 6, 2), 2);
}

int main(void) {
  setup();
  RUN(find_with_every_parameter);
  RUN(find_defaults_and_limit_cap);
  RUN(percent_decoding_of_path_segments);
  RUN(paths_that_are_not_endpoints);
  RUN(methods);
  RUN(ids);
  RUN(count_distinct_aggregate);
  RUN(ndjson_accept);
  RUN(invalid_json_names_the_parameter_and_position);
  RUN(extended_json_input);
  RUN(refused_operators_and_namespaces);
  RUN(utf8_cut);
  rm_allow_free(&allow);
  return test_summary();
}
