/* Unit tests for rm_guard: the allow-list, names, the operator scan. */
#include "rm_guard.h"

#include <uv.h>

#include "test.h"

static int allowed(const char *spec, const char *db, const char *coll) {
  struct rm_allow a;
  char err[256];
  if (rm_allow_parse(&a, spec, err, sizeof(err)) != 0)
    return -1;
  int ok = rm_allow_check(&a, db, coll);
  rm_allow_free(&a);
  return ok;
}

TEST(default_allows_all_but_internal_databases) {
  CHECK_INT(allowed(NULL, "shop", "orders"), 1);
  CHECK_INT(allowed("", "shop", "orders"), 1);
  CHECK_INT(allowed(NULL, "admin", "users"), 0);
  CHECK_INT(allowed(NULL, "local", "oplog.rs"), 0);
  CHECK_INT(allowed(NULL, "config", "chunks"), 0);
  CHECK_INT(allowed(NULL, "shop", "system.profile"), 0);
  CHECK_INT(allowed("*", "admin", "x"), 0);
}

TEST(explicit_entries) {
  const char *spec = " shop.orders , logs.* ,admin.audit";
  CHECK_INT(allowed(spec, "shop", "orders"), 1);
  CHECK_INT(allowed(spec, "shop", "users"), 0);
  CHECK_INT(allowed(spec, "logs", "anything.with.dots"), 1);
  CHECK_INT(allowed(spec, "logs", "system.js"), 0); /* db.* skips system.* */
  CHECK_INT(allowed(spec, "admin", "audit"), 1);    /* named: allowed */
  CHECK_INT(allowed(spec, "admin", "users"), 0);
  CHECK_INT(allowed(spec, "other", "orders"), 0);
  CHECK_INT(allowed("a.b.c", "a", "b.c"), 1);
  CHECK_INT(allowed("db.system.profile", "db", "system.profile"), 1);
}

TEST(bad_specs) {
  struct rm_allow a;
  char err[256];
  CHECK_INT(rm_allow_parse(&a, "shop", err, sizeof(err)), UV_EINVAL);
  CHECK_STR(err, "READMONGO_ALLOW: \"shop\" is not \"db.collection\", \"db.*\" or \"*\"");
  CHECK_INT(rm_allow_parse(&a, "shop.", err, sizeof(err)), UV_EINVAL);
  CHECK_INT(rm_allow_parse(&a, ".x", err, sizeof(err)), UV_EINVAL);
  CHECK_INT(rm_allow_parse(&a, " , ,", err, sizeof(err)), UV_EINVAL);
  CHECK_INT(rm_allow_parse(&a, "sh$op.x", err, sizeof(err)), UV_EINVAL);
  CHECK_STR(err, "READMONGO_ALLOW: \"sh$op.x\" is not a valid namespace");
}

TEST(names) {
  CHECK(rm_guard_db_name_ok("shop"));
  CHECK(!rm_guard_db_name_ok(""));
  CHECK(!rm_guard_db_name_ok("a.b"));
  CHECK(!rm_guard_db_name_ok("a b"));
  CHECK(!rm_guard_db_name_ok("a$"));
  CHECK(!rm_guard_db_name_ok("a/b"));
  CHECK(!rm_guard_db_name_ok("0123456789012345678901234567890123456789012345678901234567890123"));
  CHECK(rm_guard_coll_name_ok("db", "a.b"));
  CHECK(!rm_guard_coll_name_ok("db", ""));
  CHECK(!rm_guard_coll_name_ok("db", "$cmd"));
  CHECK(!rm_guard_coll_name_ok("db", ".x"));
}

/* Scans the JSON text as `what`; returns the status (0 when clean). */
static int scan(const char *what, const char *text, const char *spec, struct rm_err *err) {
  struct rm_allow a;
  char e[256];
  bson_error_t be;
  bson_t *doc = bson_new_from_json((const uint8_t *)text, -1, &be);
  if (doc == NULL || rm_allow_parse(&a, spec, e, sizeof(e)) != 0) {
    printf("  bad test input: %s\n", doc ? e : be.message);
    return -1;
  }
  int rc = rm_guard_scan(doc, what, &a, "db", err);
  rm_allow_free(&a);
  bson_destroy(doc);
  return rc == 0 ? 0 : err->status;
}

TEST(refused_operators_anywhere) {
  struct rm_err err;
  CHECK_INT(scan("filter", "{\"a\":{\"$gt\":1},\"b\":[{\"c\":1}]}", NULL, &err), 0);
  CHECK_INT(scan("filter", "{\"$where\":\"sleep(1)\"}", NULL, &err), 400);
  CHECK_STR(err.msg, "filter.$where: $where is refused: server-side JavaScript is not allowed");
  CHECK_INT(scan("filter",
                 "{\"$expr\":{\"$function\":{\"body\":\"x\",\"args\":[],"
                 "\"lang\":\"js\"}}}",
                 NULL, &err),
            400);
  CHECK_INT(scan("pipeline", "[{\"$group\":{\"_id\":1,\"x\":{\"$accumulator\":{}}}}]", NULL, &err),
            400);
  CHECK_STR(err.msg, "pipeline.0.$group.x.$accumulator: $accumulator is refused: server-side "
                     "JavaScript is not allowed");
  CHECK_INT(scan("pipeline", "[{\"$match\":{}},{\"$merge\":{\"into\":\"x\"}}]", NULL, &err), 400);
  CHECK_STR(err.msg, "pipeline.1.$merge: $merge is refused: writes are not allowed");
  CHECK_INT(scan("pipeline",
                 "[{\"$lookup\":{\"from\":\"o\",\"as\":\"x\",\"pipeline\":"
                 "[{\"$out\":\"y\"}]}}]",
                 NULL, &err),
            400);
  CHECK_INT(scan("pipeline", "[{\"$changeStream\":{}}]", NULL, &err), 400);
  /* Values are not operators: "$out" as a string is fine. */
  CHECK_INT(scan("filter", "{\"a\":\"$out\",\"b\":{\"$in\":[\"$where\"]}}", NULL, &err), 0);
}

TEST(pipelines_reading_other_collections) {
  struct rm_err err;
  const char *spec = "db.orders,db.items";
  CHECK_INT(scan("pipeline", "[{\"$lookup\":{\"from\":\"items\",\"as\":\"i\"}}]", spec, &err), 0);
  CHECK_INT(scan("pipeline", "[{\"$lookup\":{\"from\":\"users\",\"as\":\"u\"}}]", spec, &err), 403);
  CHECK_STR(err.msg, "pipeline.0.$lookup: $lookup reads namespace db.users, which is not allowed");
  CHECK_INT(scan("pipeline", "[{\"$unionWith\":\"users\"}]", spec, &err), 403);
  CHECK_INT(scan("pipeline",
                 "[{\"$unionWith\":{\"coll\":\"items\",\"pipeline\":"
                 "[{\"$graphLookup\":{\"from\":\"users\"}}]}}]",
                 spec, &err),
            403);
  CHECK_STR(err.msg, "pipeline.0.$unionWith.pipeline.0.$graphLookup: $graphLookup reads "
                     "namespace db.users, which is not allowed");
  CHECK_INT(
      scan("pipeline", "[{\"$lookup\":{\"from\":{\"db\":\"x\",\"coll\":\"y\"}}}]", spec, &err),
      403);
  CHECK_INT(scan("pipeline", "[{\"$lookup\":{\"from\":\"system.users\"}}]", NULL, &err), 403);
  CHECK_INT(
      scan("pipeline", "[{\"$facet\":{\"x\":[{\"$lookup\":{\"from\":\"users\"}}]}}]", NULL, &err),
      0);
}

int main(void) {
  RUN(default_allows_all_but_internal_databases);
  RUN(explicit_entries);
  RUN(bad_specs);
  RUN(names);
  RUN(refused_operators_anywhere);
  RUN(pipelines_reading_other_collections);
  return test_summary();
}
