/* test_cfg — unit tests of config/: parsing, schema, expansion, paths.
 *
 * Tests run against a temporary directory (the "config directory") that
 * holds fake programs: bin/svc (next to "muster"), path/svc and
 * path/onlypath (on the fake PATH), notexec (not executable) and work/ (a
 * cwd). It is removed at the end. */
#include "cfg.h"
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* ---- Fixture ---- */

static char tmp[64];         /* the config directory */
static char bin_dir[128];    /* tmp/bin: "next to muster" */
static char path_env[512];   /* the fake PATH */
static const char *vars[] = {/* the fake environment */
                             "HOME=/home/u", "EMPTY=",     "PORT=7070",
                             "GREETING=hi",  "NAME=alpha", NULL};

/* Looks name up in the NULL-terminated "NAME=value" list ctx. */
static const char *fake_getenv(void *ctx, const char *name) {
  size_t n = strlen(name);
  for (const char **v = ctx; *v != NULL; v++)
    if (strncmp(*v, name, n) == 0 && (*v)[n] == '=')
      return *v + n + 1;
  return NULL;
}

/* Writes a file tmp/rel with the given mode. */
static void make_file(const char *rel, mode_t mode) {
  char p[256];
  snprintf(p, sizeof(p), "%s/%s", tmp, rel);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write(fd, "#!/bin/sh\n", 10) != 10) {
    perror(p);
    exit(2);
  }
  close(fd);
  chmod(p, mode);
}

/* Creates the temporary config directory and its fake programs. */
static void fixture_setup(void) {
  char p[256];
  strcpy(tmp, "/tmp/test_cfg.XXXXXX");
  if (mkdtemp(tmp) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  const char *dirs[] = {"bin", "path", "work", NULL};
  for (size_t i = 0; dirs[i] != NULL; i++) {
    snprintf(p, sizeof(p), "%s/%s", tmp, dirs[i]);
    mkdir(p, 0755);
  }
  make_file("bin/svc", 0755);
  make_file("bin/dummy_service", 0755);
  make_file("bin/readmongo_service", 0755);
  make_file("bin/chat_service", 0755);
  make_file("path/svc", 0755);
  make_file("path/onlypath", 0755);
  make_file("notexec", 0644);
  snprintf(bin_dir, sizeof(bin_dir), "%s/bin", tmp);
  /* a relative entry must be skipped, whatever it holds */
  snprintf(path_env, sizeof(path_env), "bin::%s/path:/usr/bin:/bin", tmp);
}

/* Removes everything fixture_setup() and the tests created. */
static void fixture_teardown(void) {
  const char *files[] = {"bin/svc",          "bin/dummy_service", "bin/readmongo_service",
                         "bin/chat_service", "path/svc",          "path/onlypath",
                         "notexec",          "muster.json",       NULL};
  const char *dirs[] = {"bin", "path", "work", NULL};
  char p[256];
  for (size_t i = 0; files[i] != NULL; i++) {
    snprintf(p, sizeof(p), "%s/%s", tmp, files[i]);
    unlink(p);
  }
  for (size_t i = 0; dirs[i] != NULL; i++) {
    snprintf(p, sizeof(p), "%s/%s", tmp, dirs[i]);
    rmdir(p);
  }
  rmdir(tmp);
}

/* Returns the fake environment of the fixture. */
static struct cfg_env fixture_env(void) {
  struct cfg_env env = {.file = "muster.json",
                        .dir = tmp,
                        .bin_dir = bin_dir,
                        .path = path_env,
                        .getenv = fake_getenv,
                        .getenv_ctx = (void *)vars,
                        .ncpu = 3};
  return env;
}

/* Parses json with the fixture's environment; errors go to e. */
static struct cfg *parse(const char *json, struct cfg_errors *e) {
  struct cfg_env env = fixture_env();
  struct cfg *c = (struct cfg *)1;
  cfg_errors_init(e);
  int rc = cfg_parse(json, strlen(json), &env, &c, e);
  if ((rc == 0) != (c != NULL) || (rc == 0) != (e->count == 0))
    printf("  inconsistent result: rc=%d c=%p errors=%zu\n", rc, (void *)c, e->count);
  return c;
}

/* Returns 1 when line is one of the errors (and prints them if not). */
static int has_error(const struct cfg_errors *e, const char *line) {
  for (size_t i = 0; i < e->count; i++)
    if (strcmp(e->lines[i], line) == 0)
      return 1;
  printf("  missing error: %s\n  got:\n", line);
  for (size_t i = 0; i < e->count; i++)
    printf("    %s\n", e->lines[i]);
  return 0;
}

/* Parses json expecting exactly one error, equal to want. */
static int one_error(const char *json, const char *want) {
  struct cfg_errors e;
  struct cfg *c = parse(json, &e);
  int ok = c == NULL && e.count == 1 && has_error(&e, want);
  if (!ok && e.count != 1) {
    printf("  for %s expected only: %s\n  got %zu:\n", json, want, e.count);
    for (size_t i = 0; i < e.count; i++)
      printf("    %s\n", e.lines[i]);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  return ok;
}

/* Parses json expecting success. */
static int parses(const char *json) {
  struct cfg_errors e;
  struct cfg *c = parse(json, &e);
  int ok = c != NULL;
  if (!ok) {
    printf("  for %s unexpected errors:\n", json);
    cfg_errors_print(&e, stdout);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  return ok;
}

/* Returns tmp/rel in a static buffer. */
static const char *in_tmp(const char *rel) {
  static char p[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof(p[k]), "%s/%s", tmp, rel);
  return p[k];
}

/* A one-service config around the service fields in body ("" for none). */
static const char *svc(const char *body) {
  static char buf[4096];
  snprintf(buf, sizeof(buf), "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\"]%s%s}]}",
           body[0] ? ", " : "", body);
  return buf;
}

/* ---- gateway.tls (SPEC §13) ---- */

TEST(tls) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"tls\": {\"listen\": \"127.0.0.1:8443\", "
                        "\"certificates\": [{\"cert\": \"certs/a.pem\", \"key\": \"/k/a.key\"}, "
                        "{\"cert\": \"b.pem\", \"key\": \"b.key\"}], \"min_version\": \"TLSv1.3\", "
                        "\"http2\": false}}}",
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    const struct cfg_tls *t = &c->gateway.tls;
    CHECK_INT(t->enabled, 1);
    CHECK_STR(t->listen.host, "127.0.0.1");
    CHECK_INT(t->listen.port, 8443);
    CHECK_INT(t->ncerts, 2);
    CHECK_STR(t->certs[0].cert, in_tmp("certs/a.pem")); /* against the config directory */
    CHECK_STR(t->certs[0].key, "/k/a.key");
    CHECK_STR(t->certs[1].key, in_tmp("b.key"));
    CHECK_INT(t->min_version, CFG_TLS_1_3);
    CHECK_INT(t->http2, 0);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\", \"key\": \"b\"}]}}}",
            &e);
  CHECK(c != NULL && c->gateway.tls.listen.port == 8443 && c->gateway.tls.http2 == 1 &&
        c->gateway.tls.min_version == CFG_TLS_1_2);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(parses("{\"gateway\": {\"tls\": null}}"));
}

TEST(tls_errors) {
  CHECK(one_error("{\"gateway\": {\"tls\": {}}}",
                  "gateway.tls.certificates: required: a list of {\"cert\": PATH, \"key\": PATH}"));
  CHECK(one_error("{\"gateway\": {\"tls\": {\"certificates\": []}}}",
                  "gateway.tls.certificates: must be a list of 1..64 {\"cert\", \"key\"} objects, "
                  "got an empty list"));
  CHECK(one_error("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\"}]}}}",
                  "gateway.tls.certificates[0].key: required (the path of a PEM file)"));
  CHECK(one_error("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\", \"key\": \"b\", "
                  "\"chain\": \"c\"}]}}}",
                  "gateway.tls.certificates[0].chain: unknown key"));
  CHECK(one_error("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\", \"key\": \"b\"}], "
                  "\"min_version\": \"TLSv1.1\"}}}",
                  "gateway.tls.min_version: must be \"TLSv1.2\" or \"TLSv1.3\" (nothing older is "
                  "offered), got \"TLSv1.1\""));
  CHECK(one_error("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\", \"key\": \"b\"}], "
                  "\"http2\": 1}}}",
                  "gateway.tls.http2: must be true or false, got a number"));
  CHECK(
      one_error("{\"gateway\": {\"listen\": \"127.0.0.1:8443\", \"tls\": {\"certificates\": "
                "[{\"cert\": \"a\", \"key\": \"b\"}]}}}",
                "gateway.tls.listen: port 8443 is gateway.listen's: TLS needs a port of its own"));
  CHECK(
      one_error("{\"gateway\": {\"tls\": {\"certificates\": [{\"cert\": \"a\", \"key\": \"b\"}]}}, "
                "\"admin\": {\"listen\": \"127.0.0.1:8443\"}}",
                "admin.listen: port 8443 is gateway.tls's: admin must not be on the public port"));
}

/* ---- Defaults ---- */

TEST(defaults_host) {
  struct cfg_errors e;
  struct cfg *c = parse("{}", &e);
  CHECK(c != NULL);
  if (c == NULL)
    goto out;
  CHECK_STR(c->file, "muster.json");
  CHECK_STR(c->dir, tmp);
  CHECK_STR(c->gateway.listen.host, "127.0.0.1");
  CHECK_INT(c->gateway.listen.port, 8080);
  CHECK_INT(c->gateway.listen.ipv6, 0);
  CHECK_INT(c->gateway.request_timeout_ms, 30000);
  CHECK_INT(c->gateway.header_timeout_ms, 10000);
  CHECK_INT(c->gateway.keepalive_timeout_ms, 5000);
  CHECK_INT(c->gateway.max_header_bytes, 16384);
  CHECK_INT(c->gateway.max_body_bytes, 1048576);
  CHECK_INT(c->gateway.max_connections, 10000);
  CHECK_INT(c->gateway.max_buffered_bytes, 268435456);
  CHECK_INT(c->gateway.retries, 1);
  CHECK_INT(c->gateway.queue_timeout_ms, 2000);
  CHECK_INT(c->gateway.max_queued, 1024);
  CHECK(c->gateway.retry_budget == 0.2);
  CHECK_INT(c->gateway.quarantine_s, 30);
  CHECK_STR(c->gateway.health_path, "/healthz");
  CHECK_STR(c->gateway.access_log, in_tmp("logs/access.log"));
  CHECK_INT(c->admin.enabled, 0);
  CHECK(c->admin.listen.host == NULL);
  CHECK_STR(c->control.socket, in_tmp("run/muster.sock"));
  CHECK_STR(c->logs.dir, in_tmp("logs"));
  CHECK_INT(c->logs.max_bytes, 10485760);
  CHECK_INT(c->logs.keep, 5);
  CHECK_INT(c->nservices, 0);
  CHECK(c->services == NULL);
out:
  cfg_free(c);
  cfg_errors_free(&e);
}

TEST(defaults_service) {
  struct cfg_errors e;
  struct cfg *c = parse(svc(""), &e);
  CHECK(c != NULL);
  if (c == NULL)
    goto out;
  CHECK_INT(c->nservices, 1);
  const struct cfg_service *s = &c->services[0];
  CHECK_STR(s->name, "a");
  CHECK_INT(s->ncommand, 1);
  CHECK_STR(s->command[0], in_tmp("bin/svc"));
  CHECK(s->command[1] == NULL);
  CHECK_INT(s->instances, 1);
  CHECK_INT(s->nroutes, 0);
  CHECK_INT(s->nenv, 0);
  CHECK_STR(s->cwd, tmp);
  CHECK_INT(s->restart.policy, CFG_RESTART_ALWAYS);
  CHECK_INT(s->restart.backoff_initial_ms, 100);
  CHECK_INT(s->restart.backoff_max_ms, 30000);
  CHECK_INT(s->restart.max_restarts, 10);
  CHECK_INT(s->restart.window_s, 60);
  CHECK_INT(s->ready_timeout_ms, 10000);
  CHECK_INT(s->heartbeat_ms, 1000);
  CHECK_INT(s->heartbeat_misses, 3);
  CHECK_INT(s->stop_timeout_ms, 5000);
  CHECK_INT(s->max_inflight, 1024);
  CHECK_INT(s->max_memory_mb, 0);
  CHECK(cfg_find_service(c, "a") == s);
  CHECK(cfg_find_service(c, "b") == NULL);
out:
  cfg_free(c);
  cfg_errors_free(&e);
}

/* The SPEC §2 example, every field given. */
static const char *spec_example =
    "{\n"
    "  \"gateway\": {\n"
    "    \"listen\": \"127.0.0.1:8081\",\n"
    "    \"request_timeout_ms\": 30001,\n"
    "    \"header_timeout_ms\": 10001,\n"
    "    \"keepalive_timeout_ms\": 5001,\n"
    "    \"max_header_bytes\": 16385,\n"
    "    \"max_body_bytes\": 1048577,\n"
    "    \"max_connections\": 10001,\n"
    "    \"max_buffered_bytes\": 1048576,\n"
    "    \"retries\": 2,\n"
    "    \"queue_timeout_ms\": 2001,\n"
    "    \"max_queued\": 1025,\n"
    "    \"retry_budget\": 0.25,\n"
    "    \"quarantine_s\": 31,\n"
    "    \"health_path\": \"/health\",\n"
    "    \"access_log\": \"/var/log/muster/access.log\"\n"
    "  },\n"
    "  \"admin\": { \"listen\": \"127.0.0.1:9090\" },\n"
    "  \"control\": { \"socket\": \"run/m.sock\" },\n"
    "  \"logs\": { \"dir\": \"/var/log/muster\", \"max_bytes\": 4096, \"keep\": 0 },\n"
    "  \"services\": [\n"
    "    {\n"
    "      \"name\": \"dummy\",\n"
    "      \"command\": [\"svc\", \"--flag\", \"${GREETING}\"],\n"
    "      \"instances\": 2,\n"
    "      \"routes\": [\"/dummy\"],\n"
    "      \"env\": { \"GREETING\": \"hello\", \"B\": \"${HOME}/x\" },\n"
    "      \"cwd\": \"work\",\n"
    "      \"restart\": { \"policy\": \"on-failure\", \"backoff_initial_ms\": 200,\n"
    "                   \"backoff_max_ms\": 20000, \"max_restarts\": 5, \"window_s\": 30 },\n"
    "      \"ready_timeout_ms\": 9000,\n"
    "      \"heartbeat_ms\": 0,\n"
    "      \"heartbeat_misses\": 4,\n"
    "      \"stop_timeout_ms\": 6000,\n"
    "      \"max_inflight\": 8,\n"
    "      \"max_memory_mb\": 512\n"
    "    }\n"
    "  ]\n"
    "}\n";

TEST(full_example) {
  struct cfg_errors e;
  struct cfg *c = parse(spec_example, &e);
  CHECK(c != NULL);
  if (c == NULL) {
    cfg_errors_print(&e, stdout);
    goto out;
  }
  CHECK_INT(c->gateway.listen.port, 8081);
  CHECK_INT(c->gateway.request_timeout_ms, 30001);
  CHECK_INT(c->gateway.header_timeout_ms, 10001);
  CHECK_INT(c->gateway.keepalive_timeout_ms, 5001);
  CHECK_INT(c->gateway.max_header_bytes, 16385);
  CHECK_INT(c->gateway.max_body_bytes, 1048577);
  CHECK_INT(c->gateway.max_connections, 10001);
  CHECK_INT(c->gateway.max_buffered_bytes, 1048576);
  CHECK_INT(c->gateway.retries, 2);
  CHECK_INT(c->gateway.queue_timeout_ms, 2001);
  CHECK_INT(c->gateway.max_queued, 1025);
  CHECK(c->gateway.retry_budget == 0.25);
  CHECK_INT(c->gateway.quarantine_s, 31);
  CHECK_STR(c->gateway.health_path, "/health");
  CHECK_STR(c->gateway.access_log, "/var/log/muster/access.log");
  CHECK_INT(c->admin.enabled, 1);
  CHECK_STR(c->admin.listen.host, "127.0.0.1");
  CHECK_INT(c->admin.listen.port, 9090);
  CHECK_STR(c->control.socket, in_tmp("run/m.sock"));
  CHECK_STR(c->logs.dir, "/var/log/muster");
  CHECK_INT(c->logs.max_bytes, 4096);
  CHECK_INT(c->logs.keep, 0);
  const struct cfg_service *s = cfg_find_service(c, "dummy");
  CHECK(s != NULL);
  if (s == NULL)
    goto out;
  CHECK_INT(s->ncommand, 3);
  CHECK_STR(s->command[1], "--flag");
  CHECK_STR(s->command[2], "hi");
  CHECK(s->command[3] == NULL);
  CHECK_INT(s->instances, 2);
  CHECK_INT(s->nroutes, 1);
  CHECK_STR(s->routes[0].prefix, "/dummy");
  CHECK(s->routes[0].methods == NULL && s->routes[0].host == NULL);
  CHECK_INT(s->nenv, 2);
  CHECK_STR(s->env[0].name, "GREETING");
  CHECK_STR(s->env[0].value, "hello");
  CHECK_STR(s->env[1].name, "B");
  CHECK_STR(s->env[1].value, "/home/u/x");
  CHECK_STR(s->cwd, in_tmp("work"));
  CHECK_INT(s->restart.policy, CFG_RESTART_ON_FAILURE);
  CHECK_INT(s->restart.backoff_initial_ms, 200);
  CHECK_INT(s->restart.backoff_max_ms, 20000);
  CHECK_INT(s->restart.max_restarts, 5);
  CHECK_INT(s->restart.window_s, 30);
  CHECK_INT(s->ready_timeout_ms, 9000);
  CHECK_INT(s->heartbeat_ms, 0);
  CHECK_INT(s->heartbeat_misses, 4);
  CHECK_INT(s->stop_timeout_ms, 6000);
  CHECK_INT(s->max_inflight, 8);
  CHECK_INT(s->max_memory_mb, 512);
out:
  cfg_free(c);
  cfg_errors_free(&e);
}

/* ---- Types and ranges ---- */

/* Every integer field: where it lives and its documented range. */
struct int_case {
  const char *section; /* "gateway", "logs", "service" or "restart" */
  const char *key;
  long long min, max; /* inclusive */
  int zero_ok;        /* 0 is allowed below min */
};

static const struct int_case int_cases[] = {
    {"gateway", "request_timeout_ms", 1, 86400000, 0},
    {"gateway", "header_timeout_ms", 1, 3600000, 0},
    {"gateway", "keepalive_timeout_ms", 0, 3600000, 0},
    {"gateway", "max_header_bytes", 1024, 1048576, 0},
    {"gateway", "max_body_bytes", 0, 33554432, 0},
    {"gateway", "max_connections", 1, 1000000, 0},
    {"gateway", "max_buffered_bytes", 65536, 68719476736LL, 0},
    {"gateway", "retries", 0, 10, 0},
    {"gateway", "queue_timeout_ms", 0, 3600000, 0},
    {"gateway", "max_queued", 0, 1000000, 0},
    {"gateway", "quarantine_s", 0, 86400, 0},
    {"logs", "max_bytes", 4096, 1099511627776LL, 1},
    {"logs", "keep", 0, 1000, 0},
    {"service", "instances", 1, 1024, 0},
    {"service", "ready_timeout_ms", 1, 3600000, 0},
    {"service", "heartbeat_ms", 10, 3600000, 1},
    {"service", "heartbeat_misses", 1, 1000, 0},
    {"service", "stop_timeout_ms", 0, 3600000, 0},
    {"service", "max_inflight", 1, 1000000, 0},
    {"service", "max_memory_mb", 0, 4194304, 0},
    {"restart", "backoff_initial_ms", 1, 3600000, 0},
    {"restart", "backoff_max_ms", 1, 86400000, 0},
    {"restart", "max_restarts", 0, 1000000, 0},
    {"restart", "window_s", 1, 86400, 0},
};

/* Builds a config setting the field of ic to the JSON text value, and the
 * path messages name it by. */
static void int_config(const struct int_case *ic, const char *value, char *json, size_t n,
                       char *path, size_t pn) {
  char field[256];
  snprintf(field, sizeof(field), "\"%s\": %s", ic->key, value);
  if (strcmp(ic->section, "service") == 0) {
    snprintf(json, n, "%s", svc(field));
    snprintf(path, pn, "services[0].%s", ic->key);
  } else if (strcmp(ic->section, "restart") == 0) {
    /* keep backoff_max_ms >= backoff_initial_ms whatever is tested */
    char body[400];
    snprintf(body, sizeof(body), "\"restart\": {%s, %s}", field,
             strcmp(ic->key, "backoff_initial_ms") == 0 ? "\"backoff_max_ms\": 86400000"
                                                        : "\"backoff_initial_ms\": 1");
    snprintf(json, n, "%s", svc(body));
    snprintf(path, pn, "services[0].restart.%s", ic->key);
  } else {
    snprintf(json, n, "{\"%s\": {%s}}", ic->section, field);
    snprintf(path, pn, "%s.%s", ic->section, ic->key);
  }
}

TEST(int_types) {
  static const struct {
    const char *value, *got;
  } bad[] = {{"\"2\"", "a string"}, {"1.5", "1.5"},      {"true", "a boolean"},
             {"null", "null"},      {"[1]", "an array"}, {"{}", "an object"}};
  char json[4096], path[256], want[512];
  for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
      int_config(&int_cases[i], bad[k].value, json, sizeof(json), path, sizeof(path));
      if (strcmp(int_cases[i].key, "instances") == 0 && k == 0) /* may be "max" */
        snprintf(want, sizeof(want), "%s: must be 1..1024 or \"max\", got \"2\"", path);
      else
        snprintf(want, sizeof(want), "%s: must be an integer, got %s", path, bad[k].got);
      CHECK(one_error(json, want));
    }
  }
}

TEST(int_ranges) {
  char json[4096], path[256], want[512], v[64];
  for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
    const struct int_case *ic = &int_cases[i];
    if (ic->zero_ok)
      snprintf(want, sizeof(want), "must be 0 or %lld..%lld", ic->min, ic->max);
    else
      snprintf(want, sizeof(want), "must be %lld..%lld", ic->min, ic->max);
    long long ok[] = {ic->min, ic->max, 0};
    long long bad[] = {ic->min - 1, ic->max + 1};
    for (size_t k = 0; k < 3; k++) {
      if (k == 2 && !ic->zero_ok)
        continue;
      snprintf(v, sizeof(v), "%lld", ok[k]);
      int_config(ic, v, json, sizeof(json), path, sizeof(path));
      CHECK(parses(json));
    }
    for (size_t k = 0; k < 2; k++) {
      if (ic->zero_ok && bad[k] == 0)
        continue;
      char line[1024];
      snprintf(v, sizeof(v), "%lld", bad[k]);
      int_config(ic, v, json, sizeof(json), path, sizeof(path));
      snprintf(line, sizeof(line), "%s: %s", path, want);
      CHECK(one_error(json, line));
    }
  }
  /* JSON allows 1e2 and 2.0: they are integers; 1e300 is just too big */
  CHECK(parses(svc("\"instances\": 1e2")));
  CHECK(parses(svc("\"instances\": 2.0")));
  CHECK(one_error(svc("\"instances\": 1e300"), "services[0].instances: must be 1..1024"));
  CHECK(one_error(svc("\"instances\": -1e300"), "services[0].instances: must be 1..1024"));
  CHECK(
      one_error(svc("\"heartbeat_ms\": 5"), "services[0].heartbeat_ms: must be 0 or 10..3600000"));
  CHECK(one_error(svc("\"restart\": {\"backoff_initial_ms\": 500, \"backoff_max_ms\": 400}"),
                  "services[0].restart.backoff_max_ms: must be >= backoff_initial_ms "
                  "(500)"));
}

TEST(proxy_protocol_booleans) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"proxy_protocol\": true}}", &e);
  CHECK(c != NULL && c->gateway.proxy_protocol == 1);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{}", &e);
  CHECK(c != NULL && c->gateway.proxy_protocol == 0);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(one_error("{\"gateway\": {\"proxy_protocol\": 1}}",
                  "gateway.proxy_protocol: must be true or false, got a number"));
  CHECK(one_error("{\"gateway\": {\"proxy_protocol\": \"yes\"}}",
                  "gateway.proxy_protocol: must be true or false, got a string"));
}

TEST(trusted_proxies_blocks) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"trusted_proxies\": [\"127.0.0.1\", \"10.0.0.0/8\", "
                        "\"fd00::/8\"]}}",
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    CHECK_INT(c->gateway.ntrusted, 3);
    CHECK_INT(c->gateway.trusted[0].bits, 32);
    CHECK_INT(c->gateway.trusted[1].bits, 8);
    CHECK_INT(c->gateway.trusted[2].ip.family, 6);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{}", &e);
  CHECK(c != NULL && c->gateway.ntrusted == 0 && c->gateway.trusted == NULL);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(parses("{\"gateway\": {\"trusted_proxies\": []}}"));
  CHECK(parses("{\"gateway\": {\"trusted_proxies\": null}}"));
  CHECK(one_error("{\"gateway\": {\"trusted_proxies\": \"10.0.0.0/8\"}}",
                  "gateway.trusted_proxies: must be an array of addresses and blocks "
                  "(\"10.0.0.0/8\", \"::1\"), got a string"));
  CHECK(one_error("{\"gateway\": {\"trusted_proxies\": [\"10.0.0.0/8\", \"10.0.0.0/33\"]}}",
                  "gateway.trusted_proxies[1]: \"10.0.0.0/33\": the prefix length must be 0..32"));
  CHECK(one_error("{\"gateway\": {\"trusted_proxies\": [\"haproxy\"]}}",
                  "gateway.trusted_proxies[0]: \"haproxy\": not an IP address or block "
                  "(\"10.0.0.0/8\", \"::1\")"));
  CHECK(one_error("{\"gateway\": {\"trusted_proxies\": [8]}}",
                  "gateway.trusted_proxies[0]: must be a string, got a number"));
}

TEST(retry_budget_number) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"retry_budget\": 0}}", &e);
  CHECK(c != NULL && c->gateway.retry_budget == 0);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"gateway\": {\"retry_budget\": 10}}", &e);
  CHECK(c != NULL && c->gateway.retry_budget == 10);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(
      one_error("{\"gateway\": {\"retry_budget\": -0.1}}", "gateway.retry_budget: must be 0..10"));
  CHECK(
      one_error("{\"gateway\": {\"retry_budget\": 10.5}}", "gateway.retry_budget: must be 0..10"));
  CHECK(one_error("{\"gateway\": {\"retry_budget\": \"0.2\"}}",
                  "gateway.retry_budget: must be a number, got a string"));
  CHECK(one_error("{\"gateway\": {\"retry_budget\": null}}",
                  "gateway.retry_budget: must be a number, got null"));
  CHECK(one_error("{\"gateway\": {\"retry_budgte\": 0.2}}",
                  "gateway.retry_budgte: unknown key (did you mean \"retry_budget\"?)"));
}

TEST(other_types) {
  CHECK(one_error("{\"gateway\": []}", "gateway: must be an object, got an array"));
  CHECK(one_error("{\"logs\": 1}", "logs: must be an object, got a number"));
  CHECK(one_error("{\"control\": \"x\"}", "control: must be an object, got a string"));
  CHECK(one_error("{\"admin\": true}", "admin: must be an object, got a boolean"));
  CHECK(one_error("{\"services\": {}}", "services: must be an array, got an object"));
  CHECK(one_error("{\"services\": [1]}", "services[0]: must be an object, got a number"));
  CHECK(one_error("[]", "muster.json: must be a JSON object, got an array"));
  CHECK(one_error("{\"gateway\": {\"listen\": 8080}}",
                  "gateway.listen: must be a string, got a number"));
  CHECK(one_error("{\"gateway\": {\"health_path\": 1}}",
                  "gateway.health_path: must be a string, got a number"));
  CHECK(one_error("{\"gateway\": {\"access_log\": false}}",
                  "gateway.access_log: must be a string, got a boolean"));
  CHECK(
      one_error("{\"control\": {\"socket\": null}}", "control.socket: must be a string, got null"));
  CHECK(one_error("{\"logs\": {\"dir\": []}}", "logs.dir: must be a string, got an array"));
  CHECK(one_error("{\"services\": [{\"name\": 1, \"command\": [\"svc\"]}]}",
                  "services[0].name: must be a string, got a number"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": \"svc\"}]}",
                  "services[0].command: must be a non-empty array of "
                  "strings, got a string"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": []}]}",
                  "services[0].command: must be a non-empty array of "
                  "strings, got []"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", 2]}]}",
                  "services[0].command[1]: must be a string, got a number"));
  CHECK(one_error(svc("\"routes\": \"/x\""),
                  "services[0].routes: must be an array of prefixes or route "
                  "objects, got a string"));
  CHECK(one_error(svc("\"routes\": [1]"),
                  "services[0].routes[0]: must be a prefix string or a route "
                  "object, got a number"));
  CHECK(one_error(svc("\"env\": []"), "services[0].env: must be an object of strings, got an "
                                      "array"));
  CHECK(one_error(svc("\"env\": {\"A\": null}"),
                  "services[0].env.A: must be a string, a number or a boolean, got null"));
  CHECK(one_error(svc("\"cwd\": 1"), "services[0].cwd: must be a string, got a number"));
  CHECK(one_error(svc("\"restart\": \"always\""),
                  "services[0].restart: must be an object, got a string"));
  CHECK(one_error(svc("\"restart\": {\"policy\": \"sometimes\"}"),
                  "services[0].restart.policy: must be one of always, "
                  "on-failure, never; got \"sometimes\""));
  CHECK(one_error(svc("\"restart\": {\"policy\": 1}"),
                  "services[0].restart.policy: must be a string, got a "
                  "number"));
}

TEST(required_and_names) {
  CHECK(one_error("{\"services\": [{\"command\": [\"svc\"]}]}", "services[0].name: required"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\"}]}", "services[0].command: required"));
  CHECK(one_error("{\"services\": [{\"name\": \"a b\", \"command\": [\"svc\"]}]}",
                  "services[0].name: \"a b\" must match [A-Za-z0-9_.-]{1,64}"));
  CHECK(one_error("{\"services\": [{\"name\": \"\", \"command\": [\"svc\"]}]}",
                  "services[0].name: \"\" must match [A-Za-z0-9_.-]{1,64}"));
  CHECK(one_error("{\"services\": [{\"name\": \"all\", \"command\": [\"svc\"]}]}",
                  "services[0].name: \"all\" is reserved: `musterctl restart all` (start, "
                  "stop) names every service"));
  CHECK(parses("{\"services\": [{\"name\": \"All\", \"command\": [\"svc\"]}]}"));
  char json[512], name[70];
  memset(name, 'x', 65);
  name[65] = '\0';
  snprintf(json, sizeof(json), "{\"services\": [{\"name\": \"%s\", \"command\": [\"svc\"]}]}",
           name);
  CHECK(one_error(json, "services[0].name: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" must match "
                        "[A-Za-z0-9_.-]{1,64}"));
  name[64] = '\0';
  snprintf(json, sizeof(json), "{\"services\": [{\"name\": \"%s\", \"command\": [\"svc\"]}]}",
           name);
  CHECK(parses(json));
  CHECK(parses("{\"services\": [{\"name\": \"A-z_0.9\", \"command\": [\"svc\"]}]}"));
  CHECK(parses("{\"services\": [{\"name\": \"${NAME}\", \"command\": [\"svc\"]}]}"));
  CHECK(one_error("{\"services\": ["
                  "{\"name\": \"a\", \"command\": [\"svc\"]},"
                  "{\"name\": \"b\", \"command\": [\"svc\"]},"
                  "{\"name\": \"a\", \"command\": [\"svc\"]}]}",
                  "services[2].name: duplicate service name \"a\" (also "
                  "services[0])"));
}

/* ---- Unknown and duplicate keys ---- */

TEST(unknown_keys) {
  CHECK(one_error("{\"gatway\": {}}", "gatway: unknown key (did you mean \"gateway\"?)"));
  CHECK(one_error("{\"zzz\": 1}", "zzz: unknown key"));
  CHECK(one_error("{\"gateway\": {\"retires\": 1}}",
                  "gateway.retires: unknown key (did you mean \"retries\"?)"));
  CHECK(one_error("{\"admin\": {\"port\": 1}}", "admin.port: unknown key"));
  CHECK(one_error("{\"control\": {\"sockets\": \"x\"}}",
                  "control.sockets: unknown key (did you mean \"socket\"?)"));
  CHECK(one_error("{\"logs\": {\"Dir\": \"x\"}}", "logs.Dir: unknown key (did you mean \"dir\"?)"));
  CHECK(one_error(svc("\"instanses\": 3"), "services[0].instanses: unknown key (did you mean "
                                           "\"instances\"?)"));
  CHECK(one_error(svc("\"restart\": {\"polcy\": \"never\"}"),
                  "services[0].restart.polcy: unknown key (did you mean "
                  "\"policy\"?)"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"method\": [\"GET\"]}]"),
                  "services[0].routes[0].method: unknown key (did you mean "
                  "\"methods\"?)"));
  /* an unknown key does not hide the valid ones */
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"retries\": 99, \"x\": 1}}", &e);
  CHECK(c == NULL);
  CHECK_INT(e.count, 2);
  CHECK(has_error(&e, "gateway.x: unknown key"));
  CHECK(has_error(&e, "gateway.retries: must be 0..10"));
  cfg_errors_free(&e);
}

TEST(duplicate_keys) {
  CHECK(one_error("{\"gateway\": {\"retries\": 1, \"retries\": 2}}",
                  "gateway.retries: duplicate key"));
  CHECK(one_error("{\"logs\": {}, \"logs\": {}}", "logs: duplicate key"));
  CHECK(
      one_error(svc("\"env\": {\"A\": \"1\", \"A\": \"2\"}"), "services[0].env.A: duplicate key"));
}

/* ---- JSON syntax ---- */

TEST(syntax_positions) {
  /* a missing comma: line 3, column 5 is the '"' of the next key */
  CHECK(one_error("{\n"
                  "  \"gateway\": {\n"
                  "    \"retries\": 1\n"
                  "    \"health_path\": \"/h\"\n"
                  "  }\n"
                  "}\n",
                  "muster.json:4:5: JSON syntax error near '\"health_path\": \"'"));
  CHECK(one_error("{\n  \"logs\": {}\n    \"control\": {}\n}",
                  "muster.json:3:5: JSON syntax error near '\"control\": {}'"));
  /* columns count characters, not bytes: "é" is two bytes */
  CHECK(one_error("{\"é\": 1 2}", "muster.json:1:9: JSON syntax error near '2}'"));
  CHECK(one_error("{\"a\": 1,}", "muster.json:1:9: JSON syntax error near '}'"));
  CHECK(one_error("{\"a\": tru}", "muster.json:1:7: JSON syntax error near 'tru}'"));
  CHECK(one_error("", "muster.json:1:1: JSON syntax error (unexpected end of "
                      "input)"));
  CHECK(one_error("{\n  \"logs\": {\n", "muster.json:3:1: JSON syntax error (unexpected end of "
                                        "input)"));
  CHECK(one_error("{}\n}\n", "muster.json:2:1: JSON syntax error: text after the end "
                             "near '}'"));
  /* trailing whitespace is fine, an embedded NUL is not */
  CHECK(parses("{}\n\n  \t\n"));
  const char nul[] = "{}\0{}";
  struct cfg_env env = fixture_env();
  struct cfg *c;
  struct cfg_errors e;
  cfg_errors_init(&e);
  CHECK(cfg_parse(nul, sizeof(nul) - 1, &env, &c, &e) == -1);
  CHECK(c == NULL);
  CHECK_INT(e.count, 1);
  CHECK(e.count == 1 && strncmp(e.lines[0], "muster.json:1:3: ", 17) == 0);
  cfg_errors_free(&e);
  /* an escaped U+0000, which cJSON would end the string at: "\\u0000" (an
   * escaped backslash, then text) is no NUL */
  CHECK(one_error("{\n  \"logs\": {\"dir\": \"l\\u0000x\"}}",
                  "muster.json:2:21: a string holds U+0000, which no setting can near "
                  "'\\u0000x\"}}'"));
  CHECK(one_error("{\"a\\u0000\": 1}", "muster.json:1:4: a string holds U+0000, which no "
                                       "setting can near '\\u0000\": 1}'"));
  CHECK(parses("{\"logs\": {\"dir\": \"l\\\\u0000x\"}}"));
  /* a syntax error stops there: no schema errors follow it */
  CHECK(one_error("{\"zzz\": 1,\n\"gateway\": [}", "muster.json:2:13: JSON syntax error near '}'"));
}

/* ---- ${VAR} expansion ---- */

/* Expands in with the fake environment: the result, or "ERR: reason". */
static const char *expand(const char *in) {
  static char res[512];
  char err[200], *out;
  if (cfg_expand(in, fake_getenv, (void *)vars, &out, err, sizeof(err)) != 0) {
    snprintf(res, sizeof(res), "ERR: %s", err);
    return res;
  }
  snprintf(res, sizeof(res), "%s", out);
  free(out);
  return res;
}

TEST(expand) {
  CHECK_STR(expand(""), "");
  CHECK_STR(expand("plain"), "plain");
  CHECK_STR(expand("${HOME}"), "/home/u");
  CHECK_STR(expand("a${HOME}b${PORT}c"), "a/home/ub7070c");
  CHECK_STR(expand("${PORT:-1}"), "7070");
  CHECK_STR(expand("${NOPE:-mongodb://127.0.0.1:27017}"), "mongodb://127.0.0.1:27017");
  CHECK_STR(expand("${EMPTY}"), "");
  CHECK_STR(expand("${EMPTY:-d}"), "d"); /* ":-": empty counts as unset */
  CHECK_STR(expand("${NOPE:-}"), "");
  CHECK_STR(expand("${NOPE:-${HOME}/x}"), "/home/u/x");
  CHECK_STR(expand("${NOPE:-${NOPE2:-deep}}"), "deep");
  CHECK_STR(expand("${PORT:-${NOPE}}"), "7070"); /* unused default: no error */
  CHECK_STR(expand("$$"), "$");
  CHECK_STR(expand("$${HOME}"), "${HOME}");
  CHECK_STR(expand("$$$${HOME}"), "$${HOME}");
  CHECK_STR(expand("$$${HOME}"), "$/home/u");
  CHECK_STR(expand("$"), "$");
  CHECK_STR(expand("a$"), "a$");
  CHECK_STR(expand("$HOME"), "$HOME");
  CHECK_STR(expand("5$/h {x} }"), "5$/h {x} }");
  CHECK_STR(expand("${NOPE}"), "ERR: undefined variable \"NOPE\" (write "
                               "${NOPE:-default} for a default)");
  CHECK_STR(expand("x${HOME"), "ERR: unterminated \"${\"");
  CHECK_STR(expand("${NOPE:-abc"), "ERR: unterminated \"${\"");
  CHECK_STR(expand("${"), "ERR: invalid variable name after \"${\"");
  CHECK_STR(expand("${}"), "ERR: invalid variable name after \"${\"");
  CHECK_STR(expand("${1A}"), "ERR: invalid variable name after \"${\"");
  CHECK_STR(expand("${A B}"), "ERR: invalid \"${A \": expected \"}\" or \":-\" "
                              "after the variable name");
  CHECK_STR(expand("${HOME?x}"), "ERR: invalid \"${HOME?\": expected \"}\" or "
                                 "\":-\" after the variable name");
  char *out = (char *)1, err[64];
  CHECK(cfg_expand("${X}", NULL, NULL, &out, err, sizeof(err)) == -1);
  CHECK(out == NULL);
  CHECK(cfg_expand("${X:-y}", NULL, NULL, &out, err, sizeof(err)) == 0);
  CHECK_STR(out, "y");
  free(out);
}

TEST(expand_in_config) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"listen\": \":${PORT}\", \"access_log\": \"${EMPTY}\"},"
                        " \"logs\": {\"dir\": \"${HOME}/logs\"},"
                        " \"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"$$1\"],"
                        " \"routes\": [\"/${NAME}\"], \"env\": {\"U\": \"${NOPE:-x}\"}}]}",
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    CHECK_STR(c->gateway.listen.host, "0.0.0.0");
    CHECK_INT(c->gateway.listen.port, 7070);
    CHECK(c->gateway.access_log == NULL);
    CHECK_STR(c->logs.dir, "/home/u/logs");
    CHECK_STR(c->services[0].command[1], "$1");
    CHECK_STR(c->services[0].routes[0].prefix, "/alpha");
    CHECK_STR(c->services[0].env[0].value, "x");
  }
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(one_error(svc("\"env\": {\"U\": \"${NOPE}\"}"),
                  "services[0].env.U: undefined variable \"NOPE\" (write "
                  "${NOPE:-default} for a default)"));
  CHECK(
      one_error("{\"control\": {\"socket\": \"${SOCK\"}}", "control.socket: unterminated \"${\""));
}

/* ---- Paths and commands ---- */

TEST(path_resolve) {
  static const struct {
    const char *dir, *path, *want;
  } cases[] = {
      {"/a/b", "logs", "/a/b/logs"},
      {"/a/b", "./logs/", "/a/b/logs"},
      {"/a/b", ".", "/a/b"},
      {"/a/b", "x//y/./z/.", "/a/b/x/y/z"},
      {"/a/b", "../c", "/a/b/../c"}, /* ".." kept: symlinks */
      {"/a/b", "/abs//p/", "/abs/p"},
      {"/a/b", "/", "/"},
      {"/", "x", "/x"},
      {"/", ".", "/"},
      {"/a/b/", "x", "/a/b/x"},
      {"/a", ".hidden/./.x", "/a/.hidden/.x"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *p = cfg_path_resolve(cases[i].dir, cases[i].path);
    CHECK_STR(p, cases[i].want);
    free(p);
  }
}

TEST(paths_in_config) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"access_log\": \"a/../access.log\"},"
                        " \"control\": {\"socket\": \"/run/m/./s.sock\"},"
                        " \"logs\": {\"dir\": \"var/logs/\"},"
                        " \"services\": [{\"name\": \"a\", \"command\": "
                        "[\"svc\"], \"cwd\": \"./work/\"}]}",
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    CHECK_STR(c->gateway.access_log, in_tmp("a/../access.log"));
    CHECK_STR(c->control.socket, "/run/m/s.sock");
    CHECK_STR(c->logs.dir, in_tmp("var/logs"));
    CHECK_STR(c->services[0].cwd, in_tmp("work"));
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"gateway\": {\"access_log\": null}}", &e);
  CHECK(c != NULL && c->gateway.access_log == NULL);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"gateway\": {\"access_log\": \"\"}}", &e);
  CHECK(c != NULL && c->gateway.access_log == NULL);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(one_error("{\"logs\": {\"dir\": \"\"}}", "logs.dir: must not be empty"));
  char want[300];
  snprintf(want, sizeof(want), "services[0].cwd: \"%s\": No such file or directory",
           in_tmp("nowhere"));
  CHECK(one_error(svc("\"cwd\": \"nowhere\""), want));
  snprintf(want, sizeof(want), "services[0].cwd: \"%s\" is not a directory", in_tmp("notexec"));
  CHECK(one_error(svc("\"cwd\": \"notexec\""), want));
  char json[400], sock[200];
  memset(sock, 'x', 120);
  sock[120] = '\0';
  snprintf(json, sizeof(json), "{\"control\": {\"socket\": \"/%s\"}}", sock);
  snprintf(want, sizeof(want),
           "control.socket: \"/%s\" is too long for a Unix socket (at most "
           "107 bytes)",
           sock);
  CHECK(one_error(json, want));
}

TEST(find_command) {
  char *p;
  /* next to muster first, then PATH; relative PATH entries skipped */
  CHECK_INT(cfg_path_find_command("svc", tmp, bin_dir, path_env, &p), 0);
  CHECK_STR(p, in_tmp("bin/svc"));
  free(p);
  CHECK_INT(cfg_path_find_command("svc", tmp, NULL, path_env, &p), 0);
  CHECK_STR(p, in_tmp("path/svc"));
  free(p);
  CHECK_INT(cfg_path_find_command("onlypath", tmp, bin_dir, path_env, &p), 0);
  CHECK_STR(p, in_tmp("path/onlypath"));
  free(p);
  CHECK_INT(cfg_path_find_command("sh", tmp, bin_dir, "/usr/bin:/bin", &p), 0);
  CHECK(p != NULL && p[0] == '/');
  free(p);
  CHECK_INT(cfg_path_find_command("onlypath", tmp, bin_dir, NULL, &p), UV_ENOENT);
  CHECK(p == NULL);
  CHECK_INT(cfg_path_find_command("svc", "/", NULL, "bin:.:", &p), UV_ENOENT);
  CHECK_INT(cfg_path_find_command("notexec", tmp, tmp, NULL, &p), UV_ENOENT);
  CHECK_INT(cfg_path_find_command("", tmp, bin_dir, path_env, &p), UV_ENOENT);
  /* with a '/': relative to the config directory, no lookup */
  CHECK_INT(cfg_path_find_command("./bin/svc", tmp, NULL, NULL, &p), 0);
  CHECK_STR(p, in_tmp("bin/svc"));
  free(p);
  CHECK_INT(cfg_path_find_command("path/onlypath", tmp, NULL, NULL, &p), 0);
  CHECK_STR(p, in_tmp("path/onlypath"));
  free(p);
  CHECK_INT(cfg_path_find_command("./notexec", tmp, NULL, NULL, &p), UV_EACCES);
  CHECK_INT(cfg_path_find_command("./bin", tmp, NULL, NULL, &p), UV_EACCES);
  CHECK_INT(cfg_path_find_command("./nope", tmp, NULL, NULL, &p), UV_ENOENT);
  CHECK_INT(cfg_path_find_command("/bin/sh", tmp, NULL, NULL, &p), 0);
  CHECK_STR(p, "/bin/sh");
  free(p);
}

TEST(commands_in_config) {
  char want[400];
  snprintf(want, sizeof(want),
           "services[0].command: \"nope\" not found next to muster (%s) or on "
           "PATH",
           bin_dir);
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": [\"nope\"]}]}", want));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": [\"./nope\"]}]}",
                  "services[0].command: \"./nope\" not found"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": [\"./notexec\"]}]}",
                  "services[0].command: \"./notexec\" is not an executable file"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": [\"\"]}]}",
                  "services[0].command: the program name must not be empty"));
  struct cfg_errors e;
  struct cfg *c = parse("{\"services\": [{\"name\": \"a\", \"command\": "
                        "[\"onlypath\", \"x\"]}, {\"name\": \"b\", "
                        "\"command\": [\"bin/svc\"]}]}",
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    CHECK_STR(c->services[0].command[0], in_tmp("path/onlypath"));
    CHECK_STR(c->services[0].command[1], "x");
    CHECK_STR(c->services[1].command[0], in_tmp("bin/svc"));
  }
  cfg_free(c);
  cfg_errors_free(&e);
  /* without a bin dir the message does not mention it */
  struct cfg_env env = fixture_env();
  env.bin_dir = NULL;
  const char *j = "{\"services\": [{\"name\": \"a\", \"command\": [\"nope\"]}]}";
  cfg_errors_init(&e);
  CHECK(cfg_parse(j, strlen(j), &env, &c, &e) == -1);
  CHECK(has_error(&e, "services[0].command: \"nope\" not found on PATH"));
  cfg_errors_free(&e);
}

TEST(env_vars) {
  CHECK(one_error(svc("\"env\": {\"MUSTER_SERVICE\": \"x\"}"),
                  "services[0].env.MUSTER_SERVICE: reserved: muster sets it "
                  "for each instance"));
  CHECK(one_error(svc("\"env\": {\"NODE_CHANNEL_FD\": \"4\"}"),
                  "services[0].env.NODE_CHANNEL_FD: reserved: muster sets it "
                  "for each instance"));
  CHECK(one_error(svc("\"env\": {\"A=B\": \"x\"}"),
                  "services[0].env.A=B: a variable name must be non-empty, "
                  "without '='"));
  CHECK(one_error(svc("\"env\": {\"\": \"x\"}"),
                  "services[0].env.: a variable name must be non-empty, "
                  "without '='"));
  CHECK(parses(svc("\"env\": {}")));
  /* numbers and booleans as their JSON text, as PM2 and docker-compose take them */
  struct cfg_errors e;
  struct cfg *c = parse(svc("\"env\": {\"PORT\": 3000, \"R\": 1.5, \"N\": -2, \"D\": true, "
                            "\"F\": false}"),
                        &e);
  CHECK(c != NULL && c->services[0].nenv == 5);
  if (c && c->services[0].nenv == 5) {
    static const char *const want[] = {"3000", "1.5", "-2", "true", "false"};
    for (size_t i = 0; i < 5; i++)
      CHECK_STR(c->services[0].env[i].value, want[i]);
  }
  cfg_free(c);
  cfg_errors_free(&e);
}

/* A command written as one string, as supervisord takes it: the error
 * says how to write it. */
TEST(command_as_a_string) {
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": \"node app.js\"}]}",
                  "services[0].command: must be a non-empty array of strings, got a string: "
                  "write each argument as its own string, [\"node\", ...] (there is no shell)"));
  CHECK(one_error("{\"services\": [{\"name\": \"a\", \"command\": \"node\"}]}",
                  "services[0].command: must be a non-empty array of strings, got a string"));
}

/* ---- Listen addresses ---- */

TEST(listen) {
  static const struct {
    const char *in, *host;
    int port, ipv6;
  } ok[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080, 0},
      {"0.0.0.0:1", "0.0.0.0", 1, 0},
      {":8080", "0.0.0.0", 8080, 0},
      {"8080", "0.0.0.0", 8080, 0},
      {"localhost:65535", "127.0.0.1", 65535, 0},
      {"[::1]:9090", "::1", 9090, 1},
      {"[::]:80", "::", 80, 1},
  };
  static const struct {
    const char *in, *err;
  } bad[] = {
      {"127.0.0.1:0", "\"127.0.0.1:0\": port must be 1..65535"},
      {"127.0.0.1:65536", "\"127.0.0.1:65536\": port must be 1..65535"},
      {"127.0.0.1:", "\"127.0.0.1:\": port must be 1..65535"},
      {"127.0.0.1:80x", "\"127.0.0.1:80x\": port must be 1..65535"},
      {"127.0.0.1", "\"127.0.0.1\": expected \"HOST:PORT\" or \":PORT\""},
      {"example.com:80", "\"example.com:80\": host must be an IPv4 address or \"localhost\""},
      {"1.2.3:80", "\"1.2.3:80\": host must be an IPv4 address or "
                   "\"localhost\""},
      {"::1:80", "\"::1:80\": an IPv6 address needs brackets: \"[::1]:8080\""},
      {"[::1]", "\"[::1]\": expected \"[IPv6]:PORT\""},
      {"[1.2.3.4]:80", "\"[1.2.3.4]:80\": host must be an IPv6 address"},
      {"", "\"\": expected \"HOST:PORT\" or \":PORT\""},
  };
  char err[256];
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    struct cfg_listen l = {NULL, 0, 0};
    CHECK_INT(cfg_listen_parse(ok[i].in, &l, err, sizeof(err)), 0);
    CHECK_STR(l.host, ok[i].host);
    CHECK_INT(l.port, ok[i].port);
    CHECK_INT(l.ipv6, ok[i].ipv6);
    free(l.host);
  }
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct cfg_listen l = {NULL, 0, 0};
    err[0] = '\0';
    CHECK_INT(cfg_listen_parse(bad[i].in, &l, err, sizeof(err)), -1);
    CHECK(l.host == NULL);
    CHECK_STR(err, bad[i].err);
  }
  CHECK(one_error("{\"gateway\": {\"listen\": \"1.2.3.4:99999\"}}",
                  "gateway.listen: \"1.2.3.4:99999\": port must be 1..65535"));
  CHECK(one_error("{\"admin\": {\"listen\": \"127.0.0.1:8080\"}}",
                  "admin.listen: port 8080 is the gateway's: admin must not "
                  "be on the public port"));
  CHECK(one_error("{\"gateway\": {\"listen\": \":9000\"}, \"admin\": "
                  "{\"listen\": \"127.0.0.1:9000\"}}",
                  "admin.listen: port 9000 is the gateway's: admin must not "
                  "be on the public port"));
  struct cfg_errors e;
  struct cfg *c = parse("{\"admin\": {}}", &e); /* present: default address */
  CHECK(c != NULL && c->admin.enabled && c->admin.listen.port == 9090);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"admin\": null}", &e);
  CHECK(c != NULL && !c->admin.enabled);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"gateway\": {\"listen\": \"127.0.0.1:8080\"}, "
            "\"admin\": {\"listen\": \"127.0.0.2:8080\"}}",
            &e);
  CHECK(c != NULL); /* same port, other address: fine */
  cfg_free(c);
  cfg_errors_free(&e);
}

/* ---- Routes ---- */

TEST(routes) {
  struct cfg_errors e;
  struct cfg *c = parse(svc("\"routes\": [\"/\", \"/a/\", \"//b//c//\", "
                            "{\"prefix\": \"/api/\", \"methods\": [\"get\", \"POST\"], "
                            "\"host\": \"API.Example.com\"}, {\"prefix\": \"/h\", \"host\": "
                            "\"h.local.\"}]"),
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    const struct cfg_service *s = &c->services[0];
    CHECK_INT(s->nroutes, 5);
    CHECK_STR(s->routes[0].prefix, "/");
    CHECK_STR(s->routes[1].prefix, "/a");
    CHECK_STR(s->routes[2].prefix, "/b/c");
    CHECK_STR(s->routes[3].prefix, "/api");
    CHECK_INT(s->routes[3].nmethods, 2);
    CHECK_STR(s->routes[3].methods[0], "GET");
    CHECK_STR(s->routes[3].methods[1], "POST");
    CHECK(s->routes[3].methods[2] == NULL);
    CHECK_STR(s->routes[3].host, "api.example.com");
    CHECK_STR(s->routes[4].prefix, "/h");
    CHECK_STR(s->routes[4].host, "h.local"); /* a fully qualified name's dot dropped */
    CHECK(s->routes[4].methods == NULL);
    CHECK_STR(s->routes[4].host, "h.local");
  } else {
    cfg_errors_print(&e, stdout);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(one_error(svc("\"routes\": [\"x\"]"), "services[0].routes[0]: \"x\" must start with '/'"));
  CHECK(one_error(svc("\"routes\": [\"\"]"), "services[0].routes[0]: \"\" must start with '/'"));
  CHECK(one_error(svc("\"routes\": [\"/a?b\"]"),
                  "services[0].routes[0]: \"/a?b\" must not contain spaces, "
                  "control characters, '?' or '#'"));
  CHECK(one_error(svc("\"routes\": [\"/a b\"]"),
                  "services[0].routes[0]: \"/a b\" must not contain spaces, "
                  "control characters, '?' or '#'"));
  CHECK(one_error(svc("\"routes\": [{\"methods\": [\"GET\"]}]"),
                  "services[0].routes[0].prefix: required"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": 1}]"),
                  "services[0].routes[0].prefix: must be a string, got a "
                  "number"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"methods\": []}]"),
                  "services[0].routes[0].methods: must be a non-empty array "
                  "of HTTP methods, got []"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"methods\": \"GET\"}]"),
                  "services[0].routes[0].methods: must be a non-empty array "
                  "of HTTP methods, got a string"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"methods\": [\"GET\", \"G T\"]}]"),
                  "services[0].routes[0].methods[1]: \"G T\" is not an HTTP method"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"methods\": [\"GET\", \"get\"]}]"),
                  "services[0].routes[0].methods[1]: duplicate method \"GET\""));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"host\": \"a:80\"}]"),
                  "services[0].routes[0].host: \"a:80\" is not a host name "
                  "(letters, digits, '.', '-'; no port)"));
  CHECK(one_error(svc("\"routes\": [{\"prefix\": \"/x\", \"host\": \"\"}]"),
                  "services[0].routes[0].host: \"\" is not a host name "
                  "(letters, digits, '.', '-'; no port)"));
}

TEST(route_conflicts) {
  CHECK(one_error("{\"services\": ["
                  "{\"name\": \"a\", \"command\": [\"svc\"], \"routes\": "
                  "[\"/x\", \"/dummy\"]},"
                  "{\"name\": \"b\", \"command\": [\"svc\"], \"routes\": "
                  "[\"/dummy/\"]}]}",
                  "services[1].routes[0]: route \"/dummy\" is claimed by both "
                  "\"a\" (services[0].routes[1]) and \"b\""));
  CHECK(one_error(svc("\"routes\": [\"/x\", {\"prefix\": \"/x\", \"methods\": "
                      "[\"GET\"]}]"),
                  "services[0].routes[1]: duplicate route \"/x\" (also "
                  "routes[0])"));
  CHECK(one_error("{\"services\": ["
                  "{\"name\": \"a\", \"command\": [\"svc\"], \"routes\": "
                  "[{\"prefix\": \"/x\", \"host\": \"h\"}]},"
                  "{\"name\": \"b\", \"command\": [\"svc\"], \"routes\": "
                  "[{\"prefix\": \"/x\", \"host\": \"H\"}]}]}",
                  "services[1].routes[0]: route \"/x\" for host \"h\" is "
                  "claimed by both \"a\" (services[0].routes[0]) and \"b\""));
  /* same prefix on different hosts, or one on any host: allowed */
  CHECK(parses("{\"services\": ["
               "{\"name\": \"a\", \"command\": [\"svc\"], \"routes\": "
               "[\"/x\", {\"prefix\": \"/x\", \"host\": \"h1\"}]},"
               "{\"name\": \"b\", \"command\": [\"svc\"], \"routes\": "
               "[{\"prefix\": \"/x\", \"host\": \"h2\"}, \"/x/y\", \"/xy\"]}]}"));
}

/* ---- Programs that serve for themselves (SPEC §9) ---- */

TEST(upstream) {
  struct cfg_errors e;
  struct cfg *c = parse(svc("\"instances\": 3, \"upstream\": {\"port\": 3000}"), &e);
  CHECK(c != NULL);
  if (c) {
    const struct cfg_upstream *u = &c->services[0].upstream;
    CHECK_INT(u->enabled, 1);
    CHECK_INT(u->port, 3000);
    CHECK(u->unix_path == NULL);
    CHECK_INT(u->ready, CFG_READY_PORT);
    CHECK_INT(u->connect_timeout_ms, 5000);
    CHECK_INT(u->idle_timeout_ms, 4000);
    CHECK_INT(u->keepalive, 64);
    CHECK_INT(u->balance, CFG_BALANCE_LEAST);
    CHECK_INT(cfg_upstream_port(&c->services[0], 2), 3002);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse(svc("\"upstream\": {\"unix\": \"run/a.sock\", \"ready\": \"message\", "
                "\"keepalive\": 0, \"balance\": \"ip_hash\"}"),
            &e);
  CHECK(c != NULL);
  if (c) {
    CHECK_STR(c->services[0].upstream.unix_path, in_tmp("run/a.sock"));
    CHECK_INT(c->services[0].upstream.ready, CFG_READY_MESSAGE);
    CHECK_INT(c->services[0].upstream.keepalive, 0);
    CHECK_INT(c->services[0].upstream.balance, CFG_BALANCE_IP_HASH);
    CHECK_INT(cfg_upstream_port(&c->services[0], 0), 0);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse(svc("\"routes\": [\"/a\"]"), &e); /* an IPC service */
  CHECK(c != NULL && !c->services[0].upstream.enabled && c->ntcp == 0);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(parses(svc("\"upstream\": {\"port\": 3000}"))); /* no routes: supervised only */
  /* an http health check of an upstream uses the port muster gives it */
  CHECK(parses(svc("\"upstream\": {\"port\": 3000}, \"heartbeat_ms\": 500, "
                   "\"health\": {\"http\": \"/health\"}")));
  CHECK(parses(svc("\"instances\": \"max\", \"upstream\": {\"port\": 3000}")));
}

TEST(upstream_errors) {
  CHECK(
      one_error(svc("\"upstream\": {\"port\": 0}"), "services[0].upstream.port: must be 1..65535"));
  CHECK(one_error(svc("\"upstream\": {\"port\": \"80\"}"),
                  "services[0].upstream.port: must be an integer, got a string"));
  CHECK(one_error(svc("\"instances\": 2, \"upstream\": {\"port\": 65535}"),
                  "services[0].upstream.port: 65535 + 2 instances goes past port 65535"));
  CHECK(parses(svc("\"instances\": 2, \"upstream\": {\"port\": 65534}")));
  CHECK(one_error(svc("\"upstream\": {}"),
                  "services[0].upstream: needs exactly one of \"port\" and \"unix\""));
  CHECK(one_error(svc("\"upstream\": {\"port\": 1, \"unix\": \"x\"}"),
                  "services[0].upstream: needs exactly one of \"port\" and \"unix\""));
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000, \"ready\": \"tcp\"}"),
                  "services[0].upstream.ready: must be \"port\", \"message\" or \"notify\", got "
                  "\"tcp\""));
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000, \"balance\": \"sticky\"}"),
                  "services[0].upstream.balance: must be \"least_inflight\" or \"ip_hash\", "
                  "got \"sticky\""));
  CHECK(parses(svc("\"upstream\": {\"port\": 3000, \"balance\": \"least_inflight\"}")));
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000, \"prot\": 1}"),
                  "services[0].upstream.prot: unknown key (did you mean \"port\"?)"));
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000, \"keepalive\": -1}"),
                  "services[0].upstream.keepalive: must be 0..100000"));
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000}, \"env\": {\"PORT\": \"1\"}"),
                  "services[0].env.PORT: reserved: muster sets it for each instance of an "
                  "upstream"));
  CHECK(parses(svc("\"env\": {\"PORT\": \"1\"}"))); /* an IPC service may have its own */
  CHECK(one_error(svc("\"upstream\": {\"port\": 3000}, \"ws\": {\"ack\": true}"),
                  "services[0].ws: applies to IPC services only: an upstream's WebSockets are "
                  "tunnelled"));
  char longpath[200];
  memset(longpath, 'x', 110);
  longpath[110] = '\0';
  char body[400];
  snprintf(body, sizeof(body), "\"upstream\": {\"unix\": \"/%s\"}", longpath);
  CHECK(one_error(svc(body), "services[0].upstream.unix: \"/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                             "xxxxxxxxxxxxxxx.0\" is too long for a Unix socket (at most 107 "
                             "bytes)"));
}

/* services[].autostart: true by default; false leaves it to `start`. */
TEST(autostart) {
  struct cfg_errors e, e2;
  struct cfg *c = parse(svc("\"autostart\": false"), &e);
  struct cfg *d = parse(svc("\"autostart\": true"), &e2);
  CHECK(c != NULL && c->services[0].no_autostart == 1);
  CHECK(d != NULL && d->services[0].no_autostart == 0);
  if (c && d)
    CHECK(!cfg_service_equal(&c->services[0], &d->services[0]));
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  CHECK(one_error(svc("\"autostart\": \"no\""),
                  "services[0].autostart: must be true or false, got a string"));
}

/* services[].ready "running": a worker, with what it cannot have refused. */
TEST(worker_ready) {
  struct cfg_errors e, e2;
  struct cfg *c = parse(svc("\"ready\": \"running\""), &e);
  CHECK(c != NULL && c->services[0].ready == CFG_READY_RUNNING);
  struct cfg *d = parse(svc(""), &e2); /* the default: it speaks IPC */
  CHECK(d != NULL && d->services[0].ready == CFG_READY_MESSAGE);
  if (c && d)
    CHECK(!cfg_service_equal(&c->services[0], &d->services[0])); /* a reload restarts it */
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  CHECK(parses(svc("\"ready\": \"message\", \"routes\": [\"/a\"]")));
  CHECK(parses(svc("\"ready\": \"running\", \"ready_after_ms\": 1000")));
  CHECK(one_error(svc("\"ready_after_ms\": 1000"),
                  "services[0].ready_after_ms: is for a worker (ready \"running\"): the others say "
                  "when they are ready"));
  CHECK(parses(svc("\"ready\": \"running\", \"heartbeat_ms\": 500, "
                   "\"health\": {\"command\": [\"/bin/true\"]}")));
  CHECK(one_error(svc("\"ready\": \"running\", \"routes\": [\"/a\"]"),
                  "services[0].routes: a service with ready \"running\" has no channel to take "
                  "requests; a program that serves HTTP is an upstream service"));
  CHECK(one_error(svc("\"ready\": \"running\", \"ws\": {\"ack\": true}"),
                  "services[0].ws: applies to IPC services only, not to one with ready "
                  "\"running\""));
  CHECK(one_error(svc("\"ready\": \"running\", \"upstream\": {\"port\": 3000}"),
                  "services[0].ready: not for an upstream service: it gets ready by "
                  "upstream.ready"));
  CHECK(one_error(svc("\"ready\": \"port\""),
                  "services[0].ready: must be \"message\", \"running\", \"exited\" or "
                  "\"notify\", got \"port\""));
  /* a one-shot job: on-failure unless told, never "always" */
  struct cfg *j = parse(svc("\"ready\": \"exited\""), &e);
  CHECK(j != NULL && j->services[0].ready == CFG_READY_EXITED &&
        j->services[0].restart.policy == CFG_RESTART_ON_FAILURE);
  cfg_free(j);
  cfg_errors_free(&e);
  CHECK(parses(svc("\"ready\": \"exited\", \"restart\": {\"policy\": \"never\"}")));
  CHECK(
      one_error(svc("\"ready\": \"exited\", \"restart\": {\"policy\": \"always\"}"),
                "services[0].restart.policy: a one-shot job (ready \"exited\") restarted after it "
                "succeeds never completes; use \"on-failure\" (its default) or \"never\""));
  CHECK(one_error(svc("\"ready\": \"exited\", \"routes\": [\"/a\"]"),
                  "services[0].routes: a service with ready \"exited\" has no channel to take "
                  "requests; a program that serves HTTP is an upstream service"));
  CHECK(one_error(svc("\"ready\": true"), "services[0].ready: must be a string, got a boolean"));
  CHECK(one_error("{\"services\": [{\"name\": \"w\", \"command\": [\"svc\"], \"ready\": "
                  "\"running\"}], \"tcp\": [{\"listen\": \"127.0.0.1:7000\", \"service\": "
                  "\"w\"}]}",
                  "tcp[0].service: \"w\" has no upstream: a TCP route needs a program listening "
                  "on a port or a socket"));
}

/* ready "notify" (services[] and upstream): sd_notify, and its watchdog. */
TEST(notify_ready) {
  struct cfg_errors e, e2;
  struct cfg *c = parse(svc("\"ready\": \"notify\", \"watchdog_ms\": 2000"), &e);
  CHECK(c != NULL && c->services[0].ready == CFG_READY_NOTIFY &&
        c->services[0].watchdog_ms == 2000 && cfg_ready_of(&c->services[0]) == CFG_READY_NOTIFY);
  struct cfg *d = parse(svc("\"upstream\": {\"port\": 3000, \"ready\": \"notify\"}"), &e2);
  CHECK(d != NULL && d->services[0].upstream.ready == CFG_READY_NOTIFY &&
        d->services[0].watchdog_ms == 0 && cfg_ready_of(&d->services[0]) == CFG_READY_NOTIFY);
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  c = parse(svc("\"ready\": \"notify\", \"watchdog_ms\": 2000"), &e);
  d = parse(svc("\"ready\": \"notify\", \"watchdog_ms\": 3000"), &e2);
  if (c && d)
    CHECK(!cfg_service_equal(&c->services[0], &d->services[0])); /* a reload restarts it */
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  CHECK(parses(svc("\"upstream\": {\"port\": 3000, \"ready\": \"notify\"}, "
                   "\"watchdog_ms\": 500")));
  static const char *const needs_notify =
      "services[0].watchdog_ms: needs ready \"notify\" (or upstream.ready \"notify\"): only a "
      "program that sends WATCHDOG=1 to its NOTIFY_SOCKET has a watchdog";
  CHECK(one_error(svc("\"watchdog_ms\": 500"), needs_notify));
  CHECK(one_error(svc("\"ready\": \"running\", \"watchdog_ms\": 500"), needs_notify));
  CHECK(one_error(svc("\"ready\": \"notify\", \"watchdog_ms\": 5"),
                  "services[0].watchdog_ms: must be 0 or 10..3600000"));
  CHECK(one_error(svc("\"ready\": \"notify\", \"routes\": [\"/a\"]"),
                  "services[0].routes: a service with ready \"notify\" has no channel to take "
                  "requests; a program that serves HTTP is an upstream service"));
}

/* services[].watch: paths against cwd, the default patterns, the errors. */
TEST(watch) {
  struct cfg_errors e, e2;
  char want[512];
  struct cfg *c = parse(svc("\"cwd\": \"work\", \"watch\": true"), &e);
  CHECK(c != NULL);
  if (c) {
    const struct cfg_watch *w = &c->services[0].watch;
    snprintf(want, sizeof(want), "%s/work", tmp);
    CHECK(w->npaths == 1 && strcmp(w->paths[0], want) == 0 && w->paths[1] == NULL);
    CHECK(w->nignore == 4 && strcmp(w->ignore[0], ".*") == 0 &&
          strcmp(w->ignore[3], "node_modules") == 0);
    CHECK_INT(w->delay_ms, 1000);
  }
  struct cfg *d = parse(svc("\"watch\": [\"bin\", \"notexec\"], \"watch_ignore\": [\"*.tmp\"], "
                            "\"watch_delay_ms\": 250"),
                        &e2);
  CHECK(d != NULL);
  if (d) {
    const struct cfg_watch *w = &d->services[0].watch;
    snprintf(want, sizeof(want), "%s/notexec", tmp);
    CHECK(w->npaths == 2 && strcmp(w->paths[1], want) == 0);
    CHECK(w->nignore == 1 && strcmp(w->ignore[0], "*.tmp") == 0 && w->delay_ms == 250);
  }
  if (c && d)
    CHECK(!cfg_service_equal(&c->services[0], &d->services[0])); /* a reload restarts it */
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  CHECK(parses(svc("\"watch\": false")));
  c = parse(svc("\"watch\": false"), &e);
  CHECK(c != NULL && c->services[0].watch.npaths == 0 && c->services[0].watch.paths == NULL);
  cfg_free(c);
  cfg_errors_free(&e);
  snprintf(want, sizeof(want), "services[0].watch[0]: \"%s/nope\": No such file or directory", tmp);
  CHECK(one_error(svc("\"watch\": [\"nope\"]"), want));
  CHECK(one_error(svc("\"watch\": []"),
                  "services[0].watch: must be true, false or a non-empty array of paths, got an "
                  "empty array"));
  CHECK(one_error(svc("\"watch\": \"src\""),
                  "services[0].watch: must be true, false or a non-empty array of paths, got a "
                  "string"));
  CHECK(one_error(svc("\"watch_ignore\": [\"x\"]"), "services[0].watch_ignore: needs \"watch\""));
  CHECK(one_error(svc("\"watch_delay_ms\": 5"), "services[0].watch_delay_ms: needs \"watch\""));
  CHECK(one_error(svc("\"watch\": true, \"watch_ignore\": [\"a/b\"]"),
                  "services[0].watch_ignore[0]: \"a/b\": a pattern matches one name "
                  "(\"node_modules\", \"*.tmp\"), so it must be non-empty and without '/'"));
  CHECK(one_error(svc("\"watch\": true, \"watch_delay_ms\": -1"),
                  "services[0].watch_delay_ms: must be 0..600000"));
}

/* services[].umask, nice, limits. */
TEST(proc_settings) {
  struct cfg_errors e, e2;
  struct cfg *c = parse(svc("\"umask\": \"027\", \"nice\": 10, \"limits\": {\"nofile\": 4096, "
                            "\"core\": \"infinity\"}"),
                        &e);
  CHECK(c != NULL);
  if (c) {
    const struct cfg_proc *p = &c->services[0].proc;
    CHECK(p->umask == 027 && p->nice_set && p->nice == 10 && cfg_proc_any(p));
    CHECK(p->limit_set[CFG_LIMIT_NOFILE] && p->limit[CFG_LIMIT_NOFILE] == 4096);
    CHECK(p->limit_set[CFG_LIMIT_CORE] && p->limit[CFG_LIMIT_CORE] == CFG_LIMIT_INFINITY);
    CHECK(!p->limit_set[CFG_LIMIT_NPROC]);
  }
  struct cfg *d = parse(svc(""), &e2);
  CHECK(d != NULL && d->services[0].proc.umask == -1 && !cfg_proc_any(&d->services[0].proc));
  if (c && d)
    CHECK(!cfg_service_equal(&c->services[0], &d->services[0]));
  cfg_free(c);
  cfg_free(d);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
  CHECK(parses(svc("\"umask\": \"0002\", \"nice\": -20, \"limits\": {\"nproc\": 0}")));
  CHECK(one_error(svc("\"umask\": \"089\""),
                  "services[0].umask: must be an octal mode 000..777 as a string (\"027\")"));
  CHECK(one_error(svc("\"umask\": \"1777\""),
                  "services[0].umask: must be an octal mode 000..777 as a string (\"027\")"));
  CHECK(one_error(svc("\"nice\": 20"), "services[0].nice: must be -20..19"));
  CHECK(one_error(svc("\"limits\": {\"nofiles\": 1}"),
                  "services[0].limits.nofiles: unknown key (did you mean \"nofile\"?)"));
  CHECK(
      one_error(svc("\"limits\": {\"core\": -1}"),
                "services[0].limits.core: must be a count (0..9000000000000000) or \"infinity\""));
  CHECK(one_error(svc("\"limits\": {\"nofile\": 0}"),
                  "services[0].limits.nofile: must be at least 1: a program needs its stdout"));
}

/* services[].cron_restart. */
TEST(cron_restart) {
  struct cfg_errors e;
  struct cfg *c = parse(svc("\"cron_restart\": \"0 3 * * *\""), &e);
  CHECK(c != NULL && strcmp(c->services[0].cron_text, "0 3 * * *") == 0 &&
        c->services[0].cron.hours == 1u << 3);
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(parses(svc("\"cron_restart\": \"@daily\"")));
  CHECK(one_error(svc("\"cron_restart\": \"0 25 * * *\""),
                  "services[0].cron_restart: \"0 25 * * *\": hour \"25\": each part must be *, "
                  "0-23, a range a-b, a step /n"));
  CHECK(one_error(svc("\"cron_restart\": \"0 0 31 2 *\""),
                  "services[0].cron_restart: \"0 0 31 2 *\" matches no day to come"));
  CHECK(one_error(svc("\"cron_restart\": 3"),
                  "services[0].cron_restart: must be a string, got a number"));
}

TEST(upstream_ports) {
  CHECK(one_error("{\"services\": ["
                  "{\"name\": \"a\", \"command\": [\"svc\"], \"instances\": 3, "
                  "\"upstream\": {\"port\": 3000}},"
                  "{\"name\": \"b\", \"command\": [\"svc\"], \"upstream\": {\"port\": 3002}}]}",
                  "services[1].upstream.port: ports 3002..3002 of \"b\" overlap ports "
                  "3000..3002 of \"a\""));
  CHECK(parses("{\"services\": ["
               "{\"name\": \"a\", \"command\": [\"svc\"], \"instances\": 2, "
               "\"upstream\": {\"port\": 3000}},"
               "{\"name\": \"b\", \"command\": [\"svc\"], \"upstream\": {\"port\": 3002}}]}"));
  CHECK(one_error("{\"gateway\": {\"listen\": \"127.0.0.1:3001\"}, \"services\": ["
                  "{\"name\": \"a\", \"command\": [\"svc\"], \"instances\": 2, "
                  "\"upstream\": {\"port\": 3000}}]}",
                  "services[0].upstream.port: port 3001 is muster's own (gateway.listen)"));
}

TEST(tcp_routes) {
  struct cfg_errors e;
  const char *up = "\"services\": [{\"name\": \"chat\", \"command\": [\"svc\"], "
                   "\"upstream\": {\"port\": 7100}}, {\"name\": \"ipc\", \"command\": [\"svc\"]}]";
  char json[1024];
  snprintf(json, sizeof(json),
           "{\"tcp\": [{\"listen\": \"127.0.0.1:7000\", \"service\": "
           "\"chat\"}, {\"listen\": \"7001\", \"service\": \"chat\", \"idle_timeout_ms\": 0, "
           "\"max_connections\": 5, \"proxy_protocol\": true}], %s}",
           up);
  struct cfg *c = parse(json, &e);
  CHECK(c != NULL);
  if (c) {
    CHECK_INT(c->ntcp, 2);
    CHECK_STR(c->tcp[0].listen.host, "127.0.0.1");
    CHECK_INT(c->tcp[0].listen.port, 7000);
    CHECK_STR(c->tcp[0].service, "chat");
    CHECK_INT(c->tcp[0].idle_timeout_ms, 600000);
    CHECK_INT(c->tcp[0].max_connections, 10000);
    CHECK_STR(c->tcp[1].listen.host, "0.0.0.0");
    CHECK_INT(c->tcp[1].idle_timeout_ms, 0);
    CHECK_INT(c->tcp[1].max_connections, 5);
    CHECK_INT(c->tcp[0].proxy_protocol, 0);
    CHECK_INT(c->tcp[1].proxy_protocol, 1);
    CHECK_INT(c->tcp[0].send_proxy_protocol, 0);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  snprintf(json, sizeof(json), "{\"tcp\": [{\"listen\": \"7000\", \"service\": \"ipc\"}], %s}", up);
  CHECK(one_error(json, "tcp[0].service: \"ipc\" has no upstream: a TCP route needs a program "
                        "listening on a port or a socket"));
  snprintf(json, sizeof(json), "{\"tcp\": [{\"listen\": \"7000\", \"service\": \"nope\"}], %s}",
           up);
  CHECK(one_error(json, "tcp[0].service: no service is called \"nope\""));
  snprintf(json, sizeof(json), "{\"tcp\": [{\"service\": \"chat\"}], %s}", up);
  CHECK(one_error(json, "tcp[0].listen: required"));
  snprintf(json, sizeof(json), "{\"tcp\": [{\"listen\": \"7000\"}], %s}", up);
  CHECK(one_error(json, "tcp[0].service: required"));
  snprintf(json, sizeof(json),
           "{\"tcp\": [{\"listen\": \"7000\", \"service\": \"chat\", \"proxy_protocol\": 1}], %s}",
           up);
  CHECK(one_error(json, "tcp[0].proxy_protocol: must be true or false, got a number"));
  snprintf(json, sizeof(json),
           "{\"tcp\": [{\"listen\": \"7000\", \"service\": \"chat\"}, "
           "{\"listen\": \"127.0.0.1:7000\", \"service\": \"chat\"}], %s}",
           up);
  CHECK(one_error(json, "tcp[1].listen: port 7000 is already muster's tcp[0].listen"));
  snprintf(json, sizeof(json), "{\"tcp\": [{\"listen\": \"7100\", \"service\": \"chat\"}], %s}",
           up);
  CHECK(one_error(json, "services[0].upstream.port: port 7100 is muster's own (tcp[0].listen)"));
  CHECK(one_error("{\"tcp\": {}}", "tcp: must be an array, got an object"));
  snprintf(json, sizeof(json),
           "{\"tcp\": [{\"listen\": \"7000\", \"service\": \"chat\", "
           "\"idle_timeout_ms\": 5}], %s}",
           up);
  CHECK(one_error(json, "tcp[0].idle_timeout_ms: must be 0 or 100..86400000"));
}

TEST(upstream_equal) {
  struct cfg_errors e1, e2;
  struct cfg *a = parse(svc("\"upstream\": {\"port\": 3000}"), &e1);
  struct cfg *b = parse(svc("\"upstream\": {\"port\": 3001}"), &e2);
  CHECK(a && b && cfg_service_equal(&a->services[0], &a->services[0]));
  CHECK(a && b && !cfg_service_equal(&a->services[0], &b->services[0]));
  cfg_free(a);
  cfg_free(b);
  cfg_errors_free(&e1);
  cfg_errors_free(&e2);
}

/* ---- Many errors at once ---- */

TEST(all_errors_collected) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"gateway\": {\"retries\": \"2\", \"health_path\": \"healthz\"},"
                        " \"logs\": {\"keep\": -1},"
                        " \"services\": ["
                        "  {\"name\": \"a\", \"command\": [\"svc\"], \"instances\": 0},"
                        "  {\"name\": \"b\", \"command\": [\"svc\"], \"instances\": 2000,"
                        "   \"instanses\": 1, \"routes\": [\"/r\"]},"
                        "  {\"name\": \"c\", \"command\": [\"svc\"], \"instances\": 1025,"
                        "   \"restart\": {\"policy\": \"no\"}, \"routes\": [\"/r\"]}]}",
                        &e);
  CHECK(c == NULL);
  CHECK_INT(e.count, 9);
  CHECK(has_error(&e, "gateway.retries: must be an integer, got a string"));
  CHECK(has_error(&e, "gateway.health_path: must be a path starting with '/' "
                      "(no query, no spaces)"));
  CHECK(has_error(&e, "logs.keep: must be 0..1000"));
  CHECK(has_error(&e, "services[0].instances: must be 1..1024"));
  CHECK(has_error(&e, "services[1].instances: must be 1..1024"));
  CHECK(has_error(&e, "services[1].instanses: unknown key (did you mean "
                      "\"instances\"?)"));
  CHECK(has_error(&e, "services[2].instances: must be 1..1024"));
  CHECK(has_error(&e, "services[2].restart.policy: must be one of always, "
                      "on-failure, never; got \"no\""));
  CHECK(has_error(&e, "services[2].routes[0]: route \"/r\" is claimed by both "
                      "\"b\" (services[1].routes[0]) and \"c\""));
  char *all = cfg_errors_join(&e, "; ");
  CHECK(all != NULL && strncmp(all,
                               "gateway.retries: must be an integer, got "
                               "a string; ",
                               50) == 0);
  free(all);
  cfg_errors_free(&e);
  /* errors may hold no control character: one problem, one line */
  cfg_errors_init(&e);
  cfg_errors_add(&e, "a\nb%s", "\tc");
  CHECK_STR(e.lines[0], "a?b?c");
  all = cfg_errors_join(&e, "|");
  CHECK_STR(all, "a?b?c");
  free(all);
  cfg_errors_free(&e);
  all = cfg_errors_join(&e, "|");
  CHECK_STR(all, "");
  free(all);
}

/* ---- Reload comparison ---- */

TEST(service_equal) {
  static const char *base = "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
                            "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
                            "\"env\": {\"K\": \"v\"}, \"instances\": 2}]}";
  static const char *changed[] = {
      "{\"services\": [{\"name\": \"b\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"y\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"POST\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"], \"host\": "
      "\"h\"}], \"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [\"/a\"], \"env\": {\"K\": \"v\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"w\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\", \"L\": \"\"}, \"instances\": 2}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 3}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2, \"cwd\": \"work\"}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2, \"restart\": "
      "{\"window_s\": 61}}]}",
      "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\", \"x\"], "
      "\"routes\": [{\"prefix\": \"/a\", \"methods\": [\"GET\"]}], "
      "\"env\": {\"K\": \"v\"}, \"instances\": 2, \"max_memory_mb\": 1}]}",
  };
  struct cfg_errors e1, e2;
  struct cfg *a = parse(base, &e1), *b = parse(base, &e2);
  CHECK(a != NULL && b != NULL);
  if (a != NULL && b != NULL)
    CHECK(cfg_service_equal(&a->services[0], &b->services[0]));
  cfg_free(b);
  cfg_errors_free(&e2);
  for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++) {
    b = parse(changed[i], &e2);
    CHECK(b != NULL);
    if (a != NULL && b != NULL && cfg_service_equal(&a->services[0], &b->services[0])) {
      printf("  changed[%zu] compares equal\n", i);
      CHECK(0);
    }
    cfg_free(b);
    cfg_errors_free(&e2);
  }
  /* the same text after normalisation is the same service */
  b = parse("{\"services\": [{\"name\": \"a\", \"command\": [\"./bin/svc\", "
            "\"x\"], \"routes\": [{\"prefix\": \"/a/\", \"methods\": "
            "[\"get\"]}], \"env\": {\"K\": \"${NOPE:-v}\"}, \"instances\": 2, "
            "\"cwd\": \".\"}]}",
            &e2);
  CHECK(b != NULL);
  if (a != NULL && b != NULL)
    CHECK(cfg_service_equal(&a->services[0], &b->services[0]));
  cfg_free(b);
  cfg_errors_free(&e2);
  cfg_free(a);
  cfg_errors_free(&e1);
}

/* ---- Supervision keys (SPEC §12) ---- */

/* Parses json as a muster running as uid/gid (fake ids). */
static struct cfg *parse_as(const char *json, struct cfg_errors *e, uid_t uid, gid_t gid) {
  struct cfg_env env = fixture_env();
  struct cfg *c = NULL;
  env.fake_ids = 1;
  env.uid = uid;
  env.gid = gid;
  cfg_errors_init(e);
  cfg_parse(json, strlen(json), &env, &c, e);
  return c;
}

/* Writes text to the file rel of the config directory. */
static void write_tmp(const char *rel, const char *text) {
  int fd = open(in_tmp(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    perror(rel);
  close(fd);
}

TEST(supervision_defaults) {
  struct cfg_errors e;
  struct cfg *c = parse(svc(""), &e);
  CHECK(c != NULL);
  if (c == NULL)
    return;
  const struct cfg_service *s = &c->services[0];
  CHECK_INT(s->ndepends, 0);
  CHECK(s->depends_on == NULL);
  CHECK(s->as.user == NULL && s->as.group == NULL && !s->as.set_uid && !s->as.set_gid);
  CHECK_INT(s->stop_signal, SIGTERM);
  CHECK(cfg_success_exit(s, 0) && !cfg_success_exit(s, 1) && !cfg_success_exit(s, 255));
  CHECK(!cfg_success_exit(s, -1) && !cfg_success_exit(s, 256));
  CHECK(s->env_file == NULL);
  CHECK_INT(s->health.kind, CFG_HEALTH_NONE);
  CHECK_INT(s->instances_max, 0);
  CHECK_INT(c->nhooks, 0);
  cfg_free(c);
  cfg_errors_free(&e);
}

TEST(supervision_values) {
  struct cfg_errors e;
  write_tmp("app.env", "# the app\nPORT=9090\nSECRET='s p'\n");
  struct cfg *c = parse(svc("\"instances\": \"max\", \"stop_signal\": \"SIGINT\", "
                            "\"success_exit_codes\": [0, 3, 255], \"env_file\": \"app.env\", "
                            "\"health\": {\"http\": \"/health?deep=1\"}"),
                        &e);
  CHECK(c != NULL);
  if (c != NULL) {
    const struct cfg_service *s = &c->services[0];
    CHECK_INT(s->instances, 3); /* the fixture's CPUs */
    CHECK_INT(s->instances_max, 1);
    CHECK_INT(s->stop_signal, SIGINT);
    CHECK(cfg_success_exit(s, 0) && cfg_success_exit(s, 3) && cfg_success_exit(s, 255));
    CHECK(!cfg_success_exit(s, 1));
    CHECK_STR(s->env_file, in_tmp("app.env"));
    CHECK_INT(s->env_file_optional, 0);
    CHECK_INT(s->health.kind, CFG_HEALTH_HTTP);
    CHECK_STR(s->health.path, "/health?deep=1");
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse(svc("\"env_file\": \"-nothere.env\", \"health\": {\"command\": [\"svc\", \"-q\"]}"),
            &e);
  CHECK(c != NULL);
  if (c != NULL) {
    const struct cfg_service *s = &c->services[0];
    CHECK_STR(s->env_file, in_tmp("nothere.env"));
    CHECK_INT(s->env_file_optional, 1);
    CHECK_INT(s->health.kind, CFG_HEALTH_COMMAND);
    CHECK_INT(s->health.ncommand, 2);
    CHECK_STR(s->health.command[0], in_tmp("bin/svc"));
    CHECK(s->health.command[2] == NULL);
  }
  cfg_free(c);
  cfg_errors_free(&e);
  unlink(in_tmp("app.env"));
}

/* stop_signal with or without "SIG", as supervisord's stopsignal (TERM)
 * and systemd's KillSignal= take it. */
TEST(stop_signal_names) {
  static const struct {
    const char *name;
    int sig;
  } ok[] = {{"TERM", SIGTERM}, {"SIGQUIT", SIGQUIT}, {"HUP", SIGHUP}, {"KILL", SIGKILL}};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    char body[64];
    struct cfg_errors e;
    snprintf(body, sizeof(body), "\"stop_signal\": \"%s\"", ok[i].name);
    struct cfg *c = parse(svc(body), &e);
    CHECK(c != NULL && c->services[0].stop_signal == ok[i].sig);
    cfg_free(c);
    cfg_errors_free(&e);
  }
}

TEST(supervision_errors) {
  char want[512];
  write_tmp("bad.env", "A=1\nB=\"open\n");
  write_tmp("reserved.env", "MUSTER_SERVICE=x\n");
  CHECK(one_error(svc("\"instances\": \"all\""),
                  "services[0].instances: must be 1..1024 or \"max\", got \"all\""));
  CHECK(one_error(svc("\"stop_signal\": \"SIGFOO\""),
                  "services[0].stop_signal: \"SIGFOO\" is not a signal muster sends; one of "
                  "SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGABRT, SIGALRM, "
                  "SIGWINCH, SIGPWR, SIGKILL (SIG may be left out)"));
  CHECK(one_error(svc("\"stop_signal\": \"SIG\""),
                  "services[0].stop_signal: \"SIG\" is not a signal muster sends; one of "
                  "SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGABRT, SIGALRM, "
                  "SIGWINCH, SIGPWR, SIGKILL (SIG may be left out)"));
  CHECK(one_error(svc("\"success_exit_codes\": []"),
                  "services[0].success_exit_codes: must be a non-empty array of exit codes "
                  "(0..255), got []"));
  CHECK(one_error(svc("\"success_exit_codes\": [0, 256]"),
                  "services[0].success_exit_codes[1]: must be an exit code 0..255"));
  CHECK(one_error(svc("\"success_exit_codes\": [3, 3]"),
                  "services[0].success_exit_codes[1]: duplicate exit code 3"));
  snprintf(want, sizeof(want), "services[0].env_file: %s: cannot read: No such file or directory",
           in_tmp("nothere.env"));
  CHECK(one_error(svc("\"env_file\": \"nothere.env\""), want));
  snprintf(want, sizeof(want), "services[0].env_file: %s:2: unterminated double quote",
           in_tmp("bad.env"));
  CHECK(one_error(svc("\"env_file\": \"bad.env\""), want));
  snprintf(want, sizeof(want),
           "services[0].env_file: %s: MUSTER_SERVICE is reserved: muster sets it for each "
           "instance",
           in_tmp("reserved.env"));
  CHECK(one_error(svc("\"env_file\": \"reserved.env\""), want));
  CHECK(one_error(svc("\"env_file\": \"-\""), "services[0].env_file: must be a path"));
  CHECK(one_error(svc("\"health\": {}"),
                  "services[0].health: must have one of \"http\" and \"command\""));
  CHECK(one_error(svc("\"health\": {\"http\": \"/h\", \"command\": [\"svc\"]}"),
                  "services[0].health: must have one of \"http\" and \"command\""));
  CHECK(one_error(svc("\"health\": {\"http\": \"health\"}"),
                  "services[0].health.http: \"health\" must start with '/'"));
  CHECK(one_error(svc("\"health\": {\"http\": \"/h\"}, \"env\": {\"PORT\": \"http\"}"),
                  "services[0].health.http: PORT \"http\" is not a port (1..65535)"));
  CHECK(one_error(svc("\"health\": {\"command\": [\"svc\"]}, \"heartbeat_ms\": 0"),
                  "services[0].health: needs heartbeat_ms > 0: a check runs every heartbeat_ms"));
  CHECK(one_error(svc("\"health\": {\"http\": \"/h\", \"timeout\": 1}"),
                  "services[0].health.timeout: unknown key"));
  unlink(in_tmp("bad.env"));
  unlink(in_tmp("reserved.env"));
}

TEST(health_http_needs_a_port) {
  /* The fixture's environment has PORT; without it there is no port. */
  struct cfg_env env = fixture_env();
  struct cfg *c = NULL;
  struct cfg_errors e;
  const char *json = svc("\"health\": {\"http\": \"/h\"}");
  env.getenv = NULL;
  cfg_errors_init(&e);
  CHECK(cfg_parse(json, strlen(json), &env, &c, &e) != 0);
  CHECK(has_error(&e, "services[0].health.http: no port to check: set PORT in env or env_file "
                      "(the program listens there)"));
  cfg_errors_free(&e);
}

TEST(user_and_group) {
  struct cfg_errors e;
  struct cfg *c = parse_as(svc("\"user\": \"nobody\""), &e, 0, 0);
  CHECK(c != NULL);
  if (c != NULL) {
    const struct cfg_identity *as = &c->services[0].as;
    CHECK(as->set_uid && as->set_gid);
    CHECK_INT(as->uid, 65534);
    CHECK_INT(as->gid, 65534);
    CHECK_STR(as->login, "nobody");
    CHECK_STR(as->home, "/nonexistent");
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse_as(svc("\"group\": \"nogroup\""), &e, 0, 0);
  CHECK(c != NULL && !c->services[0].as.set_uid && c->services[0].as.set_gid &&
        c->services[0].as.gid == 65534 && c->services[0].as.uid == 0);
  cfg_free(c);
  cfg_errors_free(&e);
  /* muster running as nobody itself: its own user needs no change */
  c = parse_as(svc("\"user\": \"nobody\""), &e, 65534, 65534);
  CHECK(c != NULL && !c->services[0].as.set_uid && !c->services[0].as.set_gid &&
        strcmp(c->services[0].as.home, "/nonexistent") == 0);
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse_as(svc("\"user\": \"nobody\""), &e, 1000, 1000);
  CHECK(c == NULL && e.count == 1 &&
        has_error(&e, "services[0].user: \"nobody\" is not muster's own user (muster runs as "
                      "uid 1000): running instances as another user needs muster to run as "
                      "root"));
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse_as(svc("\"user\": \"no_such_user_zz\", \"group\": \"no_such_group_zz\""), &e, 0, 0);
  CHECK(c == NULL && has_error(&e, "services[0].user: unknown user \"no_such_user_zz\""));
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse_as(svc("\"group\": \"no_such_group_zz\""), &e, 0, 0);
  CHECK(c == NULL && has_error(&e, "services[0].group: unknown group \"no_such_group_zz\""));
  cfg_free(c);
  cfg_errors_free(&e);
}

TEST(depends_on_graph) {
  const char *two = "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\"], "
                    "\"depends_on\": [\"b\"]}, {\"name\": \"b\", \"command\": [\"svc\"], "
                    "\"depends_on\": [\"a\"]}]}";
  CHECK(one_error(two, "services[0].depends_on: cycle a \xe2\x86\x92 b \xe2\x86\x92 a"));
  CHECK(
      one_error(svc("\"depends_on\": [\"a\"]"), "services[0].depends_on: cycle a \xe2\x86\x92 a"));
  CHECK(one_error(svc("\"depends_on\": [\"zz\"]"),
                  "services[0].depends_on[0]: unknown service \"zz\""));
  CHECK(one_error(svc("\"depends_on\": \"zz\""),
                  "services[0].depends_on: must be an array of service names, got a string"));
  const char *three = "{\"services\": [{\"name\": \"x\", \"command\": [\"svc\"]}, "
                      "{\"name\": \"web\", \"command\": [\"svc\"], \"depends_on\": [\"api\"]}, "
                      "{\"name\": \"api\", \"command\": [\"svc\"], \"depends_on\": [\"db\", "
                      "\"x\"]}, {\"name\": \"db\", \"command\": [\"svc\"], \"depends_on\": "
                      "[\"web\"]}]}";
  CHECK(one_error(three, "services[1].depends_on: cycle web \xe2\x86\x92 api \xe2\x86\x92 db "
                         "\xe2\x86\x92 web"));
  const char *dup = "{\"services\": [{\"name\": \"a\", \"command\": [\"svc\"], "
                    "\"depends_on\": [\"b\", \"b\"]}, {\"name\": \"b\", \"command\": [\"svc\"]}]}";
  CHECK(one_error(dup, "services[0].depends_on[1]: \"b\" is listed twice"));
  /* A diamond is no cycle. */
  struct cfg_errors e;
  struct cfg *c = parse("{\"services\": [{\"name\": \"top\", \"command\": [\"svc\"], "
                        "\"depends_on\": [\"l\", \"r\"]}, {\"name\": \"l\", \"command\": "
                        "[\"svc\"], \"depends_on\": [\"base\"]}, {\"name\": \"r\", \"command\": "
                        "[\"svc\"], \"depends_on\": [\"base\"]}, {\"name\": \"base\", "
                        "\"command\": [\"svc\"]}]}",
                        &e);
  CHECK(c != NULL && c->services[0].ndepends == 2 &&
        strcmp(c->services[0].depends_on[1], "r") == 0);
  /* depends_on orders starts and stops: changing it restarts nothing */
  struct cfg_errors e2;
  struct cfg *c2 = parse("{\"services\": [{\"name\": \"top\", \"command\": [\"svc\"]}]}", &e2);
  CHECK(c != NULL && c2 != NULL && cfg_service_equal(&c->services[0], &c2->services[0]));
  cfg_free(c);
  cfg_free(c2);
  cfg_errors_free(&e);
  cfg_errors_free(&e2);
}

TEST(hooks_config) {
  struct cfg_errors e;
  struct cfg *c = parse("{\"hooks\": {\"on_event\": {\"events\": [\"failed\", \"exit\"], "
                        "\"command\": [\"svc\", \"--mail\"]}}}",
                        &e);
  CHECK(c != NULL && c->nhooks == 1);
  if (c != NULL && c->nhooks == 1) {
    CHECK_INT(c->hooks[0].nevents, 2);
    CHECK_STR(c->hooks[0].events[1], "exit");
    CHECK(c->hooks[0].events[2] == NULL);
    CHECK_STR(c->hooks[0].command[0], in_tmp("bin/svc"));
  }
  cfg_free(c);
  cfg_errors_free(&e);
  c = parse("{\"hooks\": {\"on_event\": [{\"events\": [\"*\"], \"command\": [\"svc\"]}, "
            "{\"events\": [\"ready\", \"drain\", \"undrain\"], \"command\": [\"svc\"]}]}}",
            &e);
  CHECK(c != NULL && c->nhooks == 2); /* undrain too: every event type muster emits */
  cfg_free(c);
  cfg_errors_free(&e);
  CHECK(one_error("{\"hooks\": {\"on_event\": {\"events\": [\"crash\"], \"command\": [\"svc\"]}}}",
                  "hooks.on_event.events[0]: \"crash\" is not an event type (spawn, ready, exit, "
                  "restart, backoff, failed, stop, drain, undrain, memory, scale, restarted, "
                  "restart-failed, reload, message, unhealthy, waiting, quarantine, or \"*\" "
                  "for all)"));
  CHECK(one_error("{\"hooks\": {\"on_event\": [{\"events\": [\"exit\"]}]}}",
                  "hooks.on_event[0].command: required"));
  CHECK(one_error("{\"hooks\": {\"on_event\": {\"command\": [\"svc\"]}}}",
                  "hooks.on_event.events: must be a non-empty array of event types, got "
                  "nothing"));
  CHECK(one_error("{\"hooks\": {\"on_events\": {}}}",
                  "hooks.on_events: unknown key (did you mean \"on_event\"?)"));
}

/* ---- Files ---- */

TEST(load_file) {
  struct cfg *c = (struct cfg *)1;
  struct cfg_errors e;
  char want[300];
  const char *missing = in_tmp("missing.json");
  cfg_errors_init(&e);
  CHECK_INT(cfg_load(missing, bin_dir, &c, &e), -1);
  CHECK(c == NULL);
  snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", missing);
  CHECK_INT(e.count, 1);
  CHECK(has_error(&e, want));
  cfg_errors_free(&e);

  cfg_errors_init(&e);
  CHECK_INT(cfg_load(tmp, bin_dir, &c, &e), -1);
  snprintf(want, sizeof(want), "%s: cannot read: Is a directory", tmp);
  CHECK(has_error(&e, want));
  cfg_errors_free(&e);

  const char *file = in_tmp("muster.json");
  FILE *f = fopen(file, "w");
  CHECK(f != NULL);
  if (f == NULL)
    return;
  fputs("{\"logs\": {\"dir\": \"l\"},\n \"services\": [{\"name\": \"s\", "
        "\"command\": [\"svc\"]}]}\n",
        f);
  fclose(f);
  cfg_errors_init(&e);
  CHECK_INT(cfg_load(file, bin_dir, &c, &e), 0);
  CHECK(c != NULL);
  if (c != NULL) {
    CHECK_STR(c->file, file);
    CHECK_STR(c->dir, tmp);
    CHECK_STR(c->logs.dir, in_tmp("l"));
    CHECK_STR(c->services[0].command[0], in_tmp("bin/svc"));
  }
  cfg_free(c);
  cfg_errors_free(&e);

  f = fopen(file, "w");
  fputs("{\n  \"logs\": {}\n  \"control\": {}\n}\n", f);
  fclose(f);
  cfg_errors_init(&e);
  CHECK_INT(cfg_load(file, bin_dir, &c, &e), -1);
  snprintf(want, sizeof(want), "%s:3:3: JSON syntax error near '\"control\": {}'", file);
  CHECK(has_error(&e, want));
  cfg_errors_free(&e);
}

/* The demo config in config/ must pass once its programs exist. */
TEST(demo_config) {
  char path[PATH_MAX];
  const char *src = __FILE__; /* .../tests/unit/test_cfg.c */
  const char *cut = strstr(src, "tests/unit/test_cfg.c");
  if (src[0] != '/' || cut == NULL) {
    printf("  (skipped: source path unknown)\n");
    return;
  }
  snprintf(path, sizeof(path), "%.*sconfig/muster.json", (int)(cut - src), src);
  struct cfg *c;
  struct cfg_errors e;
  cfg_errors_init(&e);
  CHECK_INT(cfg_load(path, bin_dir, &c, &e), 0);
  cfg_errors_print(&e, stdout);
  if (c != NULL) {
    CHECK_STR(c->gateway.listen.host, "127.0.0.1");
    CHECK_INT(c->gateway.listen.port, 8080);
    CHECK(c->admin.enabled && c->admin.listen.port == 9090);
    CHECK_INT(c->nservices, 3);
    CHECK_INT(c->realtime.history_size, 100);
    const struct cfg_service *chat = cfg_find_service(c, "chat");
    CHECK(chat != NULL);
    if (chat != NULL) {
      CHECK_INT(chat->instances, 2);
      CHECK_STR(chat->routes[0].prefix, "/chat");
      CHECK_STR(chat->command[0], in_tmp("bin/chat_service"));
      CHECK(chat->ws_ack);
    }
    const struct cfg_service *d = cfg_find_service(c, "dummy");
    const struct cfg_service *m = cfg_find_service(c, "readmongo");
    CHECK(d != NULL && m != NULL);
    if (d != NULL && m != NULL) {
      CHECK_INT(d->instances, 2);
      CHECK_STR(d->routes[0].prefix, "/dummy");
      CHECK_STR(d->command[0], in_tmp("bin/dummy_service"));
      CHECK_INT(m->instances, 2);
      CHECK_STR(m->routes[0].prefix, "/mongo");
      CHECK_STR(m->env[0].name, "MONGODB_URI");
      const char *uri = getenv("MONGODB_URI");
      CHECK_STR(m->env[0].value, uri && *uri ? uri : "mongodb://127.0.0.1:27017");
    }
  }
  cfg_free(c);
  cfg_errors_free(&e);
}

int main(void) {
  fixture_setup();
  RUN(defaults_host);
  RUN(defaults_service);
  RUN(full_example);
  RUN(int_types);
  RUN(int_ranges);
  RUN(proxy_protocol_booleans);
  RUN(trusted_proxies_blocks);
  RUN(retry_budget_number);
  RUN(other_types);
  RUN(required_and_names);
  RUN(unknown_keys);
  RUN(duplicate_keys);
  RUN(syntax_positions);
  RUN(expand);
  RUN(expand_in_config);
  RUN(path_resolve);
  RUN(paths_in_config);
  RUN(find_command);
  RUN(commands_in_config);
  RUN(env_vars);
  RUN(command_as_a_string);
  RUN(listen);
  RUN(tls);
  RUN(tls_errors);
  RUN(routes);
  RUN(route_conflicts);
  RUN(upstream);
  RUN(upstream_errors);
  RUN(worker_ready);
  RUN(notify_ready);
  RUN(watch);
  RUN(proc_settings);
  RUN(cron_restart);
  RUN(autostart);
  RUN(upstream_ports);
  RUN(tcp_routes);
  RUN(upstream_equal);
  RUN(all_errors_collected);
  RUN(service_equal);
  RUN(supervision_defaults);
  RUN(supervision_values);
  RUN(stop_signal_names);
  RUN(supervision_errors);
  RUN(health_http_needs_a_port);
  RUN(user_and_group);
  RUN(depends_on_graph);
  RUN(hooks_config);
  RUN(load_file);
  RUN(demo_config);
  fixture_teardown();
  return test_summary();
}
