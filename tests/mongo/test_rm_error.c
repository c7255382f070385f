/* Unit tests for rm_error (driver error -> HTTP status) and rm_config. */
#include "rm_config.h"
#include "rm_error.h"

#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <uv.h>

#include "test.h"

static int status(uint32_t domain, uint32_t code, int64_t elapsed, int64_t sto) {
  bson_error_t e;
  bson_set_error(&e, domain, code, "x");
  return rm_error_status(&e, elapsed, sto);
}

TEST(server_errors) {
  CHECK_INT(status(MONGOC_ERROR_SERVER, 50, 0, 6000), 504);    /* MaxTimeMSExpired */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 262, 0, 6000), 504);   /* ExceededTimeLimit */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 2, 0, 6000), 400);     /* BadValue */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 40324, 0, 6000), 400); /* unknown stage */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 13, 0, 6000), 403);    /* Unauthorized */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 13435, 0, 6000), 503); /* NotPrimaryNoSecondaryOk */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 91, 0, 6000), 503);    /* ShutdownInProgress */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 1, 0, 6000), 502);     /* InternalError */
  CHECK_INT(status(MONGOC_ERROR_SERVER, 26, 0, 6000), 404);    /* NamespaceNotFound */
}

TEST(driver_errors) {
  CHECK_INT(status(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE, 0, 0),
            503);
  CHECK_INT(status(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_CONNECT, 10, 6000), 503);
  CHECK_INT(status(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, 10, 6000), 503);
  CHECK_INT(status(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, 6000, 6000), 504);
  CHECK_INT(status(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE, 0, 0), 503);
  CHECK_INT(status(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_TOO_BIG, 0, 0), 400);
  CHECK_INT(status(MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, 0, 0), 400);
  CHECK_INT(status(MONGOC_ERROR_PROTOCOL, MONGOC_ERROR_PROTOCOL_INVALID_REPLY, 0, 0), 502);
}

TEST(message_and_code) {
  bson_error_t e;
  struct rm_err err;
  bson_set_error(&e, MONGOC_ERROR_SERVER, 50, "operation exceeded time limit");
  rm_err_from_bson(&err, &e, "find db.c", 0, 6000);
  CHECK_INT(err.status, 504);
  CHECK_INT(err.code, 50);
  CHECK_STR(err.msg, "find db.c: MongoDB timed out: operation exceeded time limit");
  bson_set_error(&e, MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                 "No suitable servers found");
  rm_err_from_bson(&err, &e, "count db.c", 0, 6000);
  CHECK_INT(err.status, 503);
  CHECK_INT(err.code, 0);
  CHECK_STR(err.msg, "count db.c: MongoDB unavailable: No suitable servers found");
}

/* ---- rm_config ---- */

static const char *const *vars; /* NULL-terminated name, value pairs */

static const char *fake_env(const char *name) {
  for (const char *const *v = vars; v && v[0]; v += 2)
    if (strcmp(v[0], name) == 0)
      return v[1];
  return NULL;
}

TEST(config_defaults) {
  static const char *const none[] = {NULL};
  struct rm_config c;
  char err[256];
  vars = none;
  CHECK_INT(rm_config_load(&c, fake_env, err, sizeof(err)), 0);
  CHECK_STR(c.uri, "mongodb://127.0.0.1:27017");
  CHECK(c.allow == NULL);
  CHECK_INT(c.max_limit, 1000);
  CHECK_INT(c.max_time_ms, 5000);
  CHECK_INT(c.health_timeout_ms, 1000);
  CHECK_INT(c.max_response_bytes, 16 << 20);
  CHECK_INT(c.threads, 16);
  CHECK_INT(c.threads_defaulted, 1);
}

TEST(config_values_and_errors) {
  static const char *const set[] = {"MONGODB_URI",
                                    "mongodb://h/?replicaSet=rs",
                                    "READMONGO_ALLOW",
                                    "a.*",
                                    "READMONGO_MAX_LIMIT",
                                    "50",
                                    "READMONGO_MAX_TIME_MS",
                                    "250",
                                    "UV_THREADPOOL_SIZE",
                                    "4",
                                    NULL};
  static const char *const bad[] = {"READMONGO_MAX_LIMIT", "10x", NULL};
  static const char *const one[] = {"UV_THREADPOOL_SIZE", "1", NULL};
  struct rm_config c;
  char err[256];
  vars = set;
  CHECK_INT(rm_config_load(&c, fake_env, err, sizeof(err)), 0);
  CHECK_STR(c.uri, "mongodb://h/?replicaSet=rs");
  CHECK_STR(c.allow, "a.*");
  CHECK_INT(c.max_limit, 50);
  CHECK_INT(c.max_time_ms, 250);
  CHECK_INT(c.threads, 4);
  CHECK_INT(c.threads_defaulted, 0);
  vars = bad;
  CHECK_INT(rm_config_load(&c, fake_env, err, sizeof(err)), UV_EINVAL);
  CHECK_STR(err, "READMONGO_MAX_LIMIT=\"10x\": must be an integer 1..100000000");
  vars = one;
  CHECK_INT(rm_config_load(&c, fake_env, err, sizeof(err)), UV_EINVAL);
}

TEST(redact) {
  char out[256];
  rm_config_redact_uri("mongodb://u:secret@h1,h2/db?x=1", out, sizeof(out));
  CHECK_STR(out, "mongodb://u:***@h1,h2/db?x=1");
  rm_config_redact_uri("mongodb+srv://c.example.com/?authSource=a@b", out, sizeof(out));
  CHECK_STR(out, "mongodb+srv://c.example.com/?authSource=a@b");
  rm_config_redact_uri("mongodb://user@h", out, sizeof(out));
  CHECK_STR(out, "mongodb://user@h");
}

int main(void) {
  RUN(server_errors);
  RUN(driver_errors);
  RUN(message_and_code);
  RUN(config_defaults);
  RUN(config_values_and_errors);
  RUN(redact);
  return test_summary();
}
