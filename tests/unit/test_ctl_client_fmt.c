/* Unit tests for musterctl's pure parts: ctl_client_fmt (requests, human
 * text of replies) and, by including musterctl.c, its command line (the
 * request each argv makes, usage errors) and the exit status each kind of
 * reply gives (a session against a socketpair, output captured).
 *
 * Every request musterctl makes is also parsed by the server's ctl_cmd,
 * so the two ends cannot drift apart. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_client_fmt.h"
#include "test.h"

/* musterctl.c, its main renamed; its static helpers the tests do not
 * call (run_tool, pick_socket) would otherwise warn. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define main musterctl_main
#include "musterctl.c"
#undef main
#pragma GCC diagnostic pop

/* ---- Helpers ---- */

/* What was written to stdout and stderr meanwhile. */
struct captured {
  char out[16384];
  char err[16384];
};

static FILE *cap_out, *cap_err;
static int saved_out, saved_err;

static void capture_begin(void) {
  fflush(stdout);
  fflush(stderr);
  cap_out = tmpfile();
  cap_err = tmpfile();
  if (cap_out == NULL || cap_err == NULL)
    abort();
  saved_out = dup(1);
  saved_err = dup(2);
  dup2(fileno(cap_out), 1);
  dup2(fileno(cap_err), 2);
}

static void read_back(FILE *f, char *buf, size_t size) {
  rewind(f);
  size_t n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void capture_end(struct captured *c) {
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  read_back(cap_out, c->out, sizeof(c->out));
  read_back(cap_err, c->err, sizeof(c->err));
}

/* 1 when s starts with prefix. */
static int starts(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* parse_args on "musterctl" + the words (NULL-terminated). */
static int parse_words(struct opts *o, struct captured *c, const char *const *words) {
  char *argv[32] = {"musterctl"};
  int argc = 1;
  while (*words != NULL && argc < 31)
    argv[argc++] = (char *)*words++;
  memset(o, 0, sizeof(*o));
  capture_begin();
  int rc = parse_args(o, argc, argv);
  capture_end(c);
  return rc;
}
#define PARSE(o, c, ...) parse_words(o, c, (const char *const[]){__VA_ARGS__, NULL})

/* The usage error for the words: exit status 2, why on stderr. */
static void usage_error(const char *const *words, const char *why, int line) {
  struct opts o;
  struct captured c;
  char want[256];
  int rc = parse_words(&o, &c, words);
  snprintf(want, sizeof(want), "musterctl: %s\nusage: musterctl", why);
  if (rc != 2 || !starts(c.err, want)) {
    printf("  line %d: exit %d, stderr \"%.80s\", expected 2 and \"%s\"\n", line, rc, c.err, why);
    test_cur_failed = 1;
  }
}
#define USAGE_ERROR(why, ...) usage_error((const char *const[]){__VA_ARGS__, NULL}, why, __LINE__)

/* The request line argv makes (without its "\n"), also parsed by the
 * server into *cmd; "" when argv is not a request. */
static const char *request_of(const char *const *words, struct ctl_cmd *cmd) {
  static char line[512];
  struct opts o;
  struct captured c;
  struct ipc_buf b;
  char err[200];
  line[0] = '\0';
  if (parse_words(&o, &c, words) != -1 || o.tool != TOOL_NONE)
    return line;
  ipc_buf_init(&b);
  ctl_client_request(&b, &o.req);
  if (b.len > 0 && b.len < sizeof(line) && b.data[b.len - 1] == '\n') {
    memcpy(line, b.data, b.len - 1);
    line[b.len - 1] = '\0';
    if (ctl_cmd_parse(line, b.len - 1, cmd, err, sizeof(err)) != 0) {
      printf("  the server refuses %s: %s\n", line, err);
      test_cur_failed = 1;
    }
  }
  ipc_buf_free(&b);
  return line;
}
#define REQUEST(cmd, ...) request_of((const char *const[]){__VA_ARGS__, NULL}, cmd)

/* ctl_client_render of the JSON reply for r. Returns its text, or
 * "ERROR: why" when it fails. */
static const char *render(const struct ctl_client_req *r, const char *json) {
  static char text[8192];
  struct ipc_buf b;
  const char *why = NULL;
  cJSON *reply = cJSON_Parse(json);
  if (reply == NULL)
    abort(); /* a broken test */
  ipc_buf_init(&b);
  int rc = ctl_client_render(&b, r, reply, &why);
  if (rc == 0)
    snprintf(text, sizeof(text), "%.*s", (int)b.len, b.data ? b.data : "");
  else
    snprintf(text, sizeof(text), "ERROR: %s", why ? why : "(why not set)");
  ipc_buf_free(&b);
  cJSON_Delete(reply);
  return text;
}

static const char *render_stream(const struct ctl_client_req *r, const char *json) {
  static char text[2048];
  struct ipc_buf b;
  const char *why = NULL;
  cJSON *msg = cJSON_Parse(json);
  if (msg == NULL)
    abort();
  ipc_buf_init(&b);
  if (ctl_client_render_stream(&b, r, msg, &why) == 0)
    snprintf(text, sizeof(text), "%.*s", (int)b.len, b.data ? b.data : "");
  else
    snprintf(text, sizeof(text), "ERROR: %s", why ? why : "(why not set)");
  ipc_buf_free(&b);
  cJSON_Delete(msg);
  return text;
}

static const char *render_error(const char *json) {
  static char text[2048];
  struct ipc_buf b;
  cJSON *reply = cJSON_Parse(json);
  if (reply == NULL)
    abort();
  ipc_buf_init(&b);
  ctl_client_render_error(&b, reply);
  snprintf(text, sizeof(text), "%.*s", (int)b.len, b.data ? b.data : "");
  ipc_buf_free(&b);
  cJSON_Delete(reply);
  return text;
}

/* musterctl's session for the words against a server that sent replies
 * and closed. Returns the exit status; c gets what it printed. */
static int session(struct captured *c, const char *replies, const char *const *words) {
  struct opts o;
  int sv[2];
  if (parse_words(&o, c, words) != -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    abort();
  if (write(sv[1], replies, strlen(replies)) != (ssize_t)strlen(replies))
    abort();
  close(sv[1]);
  struct session s = {.o = &o, .socket = "test.sock", .streaming = ctl_client_streams(&o.req)};
  ipc_buf_init(&s.out);
  capture_begin();
  int code = run_session(&s, sv[0]);
  capture_end(c);
  ipc_buf_free(&s.out);
  close(sv[0]);
  return code;
}
#define SESSION(c, replies, ...) session(c, replies, (const char *const[]){__VA_ARGS__, NULL})

/* ---- Commands ---- */

TEST(command_words) {
  const char *words[] = {"status", "start",   "stop",  "restart", "scale",  "signal",
                         "reload", "logs",    "flush", "env",     "events", "shutdown",
                         "drain",  "undrain", "rooms", "publish", "version"};
  for (int i = 0; i < 17; i++) {
    enum ctl_cmd_type t = CTL_NONE;
    CHECK_INT(ctl_client_cmd_find(words[i], &t), 0);
    CHECK_INT(t, CTL_STATUS + i);
    CHECK_STR(ctl_client_cmd_name(t), words[i]);
    CHECK_STR(ctl_client_cmd_name(t), ctl_cmd_name(t)); /* the server's words */
  }
  enum ctl_cmd_type t = CTL_STOP;
  const char *unknown[] = {"", "stat", "STATUS", "Status", "statusx", "wait", "top", "help"};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(*unknown); i++)
    CHECK_INT(ctl_client_cmd_find(unknown[i], &t), UV_ENOENT);
  CHECK_INT(t, CTL_STOP); /* untouched */
}

TEST(command_service_arguments) {
  CHECK_INT(ctl_client_cmd_service(CTL_STATUS), 2);
  CHECK_INT(ctl_client_cmd_service(CTL_START), 1);
  CHECK_INT(ctl_client_cmd_service(CTL_STOP), 1);
  CHECK_INT(ctl_client_cmd_service(CTL_RESTART), 1);
  CHECK_INT(ctl_client_cmd_service(CTL_SCALE), 1);
  CHECK_INT(ctl_client_cmd_service(CTL_LOGS), 2);
  CHECK_INT(ctl_client_cmd_service(CTL_RELOAD), 0);
  CHECK_INT(ctl_client_cmd_service(CTL_EVENTS), 0);
  CHECK_INT(ctl_client_cmd_service(CTL_SHUTDOWN), 0);
  CHECK_INT(ctl_client_cmd_service(CTL_VERSION), 0);
}

TEST(streams) {
  struct ctl_client_req r = {.cmd = CTL_EVENTS};
  CHECK_INT(ctl_client_streams(&r), 1);
  r = (struct ctl_client_req){.cmd = CTL_LOGS, .service = "d", .n = 5, .follow = 1};
  CHECK_INT(ctl_client_streams(&r), 1);
  r.follow = 0;
  CHECK_INT(ctl_client_streams(&r), 0);
  r = (struct ctl_client_req){.cmd = CTL_STATUS, .follow = 1};
  CHECK_INT(ctl_client_streams(&r), 0);
}

/* ---- Requests from argv ---- */

TEST(request_of_each_command) {
  struct ctl_cmd c;
  CHECK_STR(REQUEST(&c, "status"), "{\"cmd\":\"status\"}");
  CHECK_INT(c.type, CTL_STATUS);
  CHECK_STR(REQUEST(&c, "status", "api"), "{\"cmd\":\"status\",\"service\":\"api\"}");
  CHECK_STR(c.service, "api");
  CHECK_STR(REQUEST(&c, "start", "api"), "{\"cmd\":\"start\",\"service\":\"api\"}");
  CHECK_INT(c.type, CTL_START);
  CHECK_STR(REQUEST(&c, "stop", "api"), "{\"cmd\":\"stop\",\"service\":\"api\"}");
  CHECK_INT(c.type, CTL_STOP);
  CHECK_STR(REQUEST(&c, "restart", "api"), "{\"cmd\":\"restart\",\"service\":\"api\"}");
  CHECK_INT(c.type, CTL_RESTART);
  CHECK_STR(REQUEST(&c, "scale", "api", "4"),
            "{\"cmd\":\"scale\",\"service\":\"api\",\"instances\":4}");
  CHECK_INT(c.instances, 4);
  CHECK_STR(REQUEST(&c, "signal", "api", "HUP"),
            "{\"cmd\":\"signal\",\"service\":\"api\",\"signal\":\"HUP\"}");
  CHECK_INT(c.signo, SIGHUP);
  CHECK_STR(REQUEST(&c, "signal", "all", "SIGUSR2"),
            "{\"cmd\":\"signal\",\"service\":\"all\",\"signal\":\"SIGUSR2\"}");
  CHECK_INT(c.signo, SIGUSR2);
  CHECK_STR(REQUEST(&c, "flush"), "{\"cmd\":\"flush\"}");
  CHECK_STR(REQUEST(&c, "flush", "api"), "{\"cmd\":\"flush\",\"service\":\"api\"}");
  CHECK_INT(c.type, CTL_FLUSH);
  CHECK_STR(REQUEST(&c, "env", "api"), "{\"cmd\":\"env\",\"service\":\"api\",\"index\":0}");
  CHECK_STR(REQUEST(&c, "env", "api", "3"), "{\"cmd\":\"env\",\"service\":\"api\",\"index\":3}");
  CHECK_INT(c.index, 3);
  CHECK_STR(REQUEST(&c, "scale", "api", "+3"),
            "{\"cmd\":\"scale\",\"service\":\"api\",\"instances\":\"+3\"}");
  CHECK_INT(c.add, 1);
  CHECK_STR(REQUEST(&c, "scale", "api", "0"),
            "{\"cmd\":\"scale\",\"service\":\"api\",\"instances\":0}");
  CHECK_INT(c.instances, 0);
  CHECK_STR(REQUEST(&c, "reload"), "{\"cmd\":\"reload\"}");
  CHECK_INT(c.type, CTL_RELOAD);
  CHECK_STR(REQUEST(&c, "logs", "api"), "{\"cmd\":\"logs\",\"service\":\"api\",\"lines\":50}");
  CHECK_INT(c.lines, CTL_LINES_DEFAULT);
  CHECK_INT(c.follow, 0);
  CHECK_STR(REQUEST(&c, "logs", "api", "7"), "{\"cmd\":\"logs\",\"service\":\"api\",\"lines\":7}");
  CHECK_INT(c.lines, 7);
  CHECK_STR(REQUEST(&c, "logs"), "{\"cmd\":\"logs\",\"lines\":50}"); /* every service's */
  CHECK_STR(REQUEST(&c, "logs", "-n", "5", "-f"), "{\"cmd\":\"logs\",\"lines\":5,\"follow\":true}");
  CHECK_STR(c.service, "");
  CHECK_STR(REQUEST(&c, "events"), "{\"cmd\":\"events\"}");
  CHECK_INT(c.type, CTL_EVENTS);
  CHECK_STR(REQUEST(&c, "shutdown"), "{\"cmd\":\"shutdown\"}");
  CHECK_INT(c.type, CTL_SHUTDOWN);
  CHECK_STR(REQUEST(&c, "version"), "{\"cmd\":\"version\"}");
  CHECK_INT(c.type, CTL_VERSION);
}

TEST(request_follow_and_options_anywhere) {
  struct ctl_cmd c;
  const char *want = "{\"cmd\":\"logs\",\"service\":\"api\",\"lines\":3,\"follow\":true}";
  CHECK_STR(REQUEST(&c, "logs", "api", "3", "-f"), want);
  CHECK_INT(c.follow, 1);
  CHECK_STR(REQUEST(&c, "-f", "logs", "api", "3"), want);
  CHECK_STR(REQUEST(&c, "logs", "--follow", "api", "3"), want);
  CHECK_STR(REQUEST(&c, "--json", "-s", "/x.sock", "logs", "api", "3", "-f"), want);
  CHECK_STR(REQUEST(&c, "logs", "api", "--socket=/x", "3", "--follow"), want);
}

TEST(request_words_after_double_dash) {
  struct ctl_cmd c;
  CHECK_STR(REQUEST(&c, "start", "--", "-x"), "{\"cmd\":\"start\",\"service\":\"-x\"}");
  CHECK_STR(REQUEST(&c, "start", "-"), "{\"cmd\":\"start\",\"service\":\"-\"}"); /* a word */
}

TEST(request_escapes_the_service) {
  /* The server refuses such a name, but the line must still be JSON. */
  struct ipc_buf b;
  struct ctl_client_req r = {.cmd = CTL_STOP, .service = "a\"b\\c\n"};
  ipc_buf_init(&b);
  ctl_client_request(&b, &r);
  CHECK(b.len > 0);
  ipc_buf_addc(&b, '\0');
  CHECK_STR(b.data, "{\"cmd\":\"stop\",\"service\":\"a\\\"b\\\\c\\n\"}\n");
  cJSON *j = cJSON_Parse(b.data);
  CHECK(j != NULL);
  CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "service")), "a\"b\\c\n");
  cJSON_Delete(j);
  ipc_buf_free(&b);
}

TEST(options_and_tools) {
  struct opts o;
  struct captured c;
  CHECK_INT(PARSE(&o, &c, "-s", "/run/m.sock", "--json", "status"), -1);
  CHECK_STR(o.socket, "/run/m.sock");
  CHECK_INT(o.json, 1);
  CHECK_INT(PARSE(&o, &c, "--socket", "/a", "status"), -1);
  CHECK_STR(o.socket, "/a");
  CHECK_INT(PARSE(&o, &c, "wait", "api"), -1);
  CHECK_INT(o.tool, TOOL_WAIT);
  CHECK_STR(o.req.service, "api");
  CHECK(o.timeout == NULL);
  CHECK_INT(PARSE(&o, &c, "wait", "api", "--timeout", "5"), -1);
  CHECK_STR(o.timeout, "5");
  CHECK_INT(PARSE(&o, &c, "--timeout=2.5", "wait", "api"), -1);
  CHECK_STR(o.timeout, "2.5");
  CHECK_INT(PARSE(&o, &c, "top"), -1);
  CHECK_INT(o.tool, TOOL_TOP);
  CHECK_STR(c.err, ""); /* nothing said when all is well */
}

TEST(help_and_version_exit_0) {
  struct opts o;
  struct captured c;
  CHECK_INT(PARSE(&o, &c, "--help"), 0);
  CHECK(starts(c.out, "usage: musterctl"));
  CHECK_STR(c.err, "");
  CHECK_INT(PARSE(&o, &c, "-h", "bogus-command"), 0); /* help wins */
  CHECK_INT(PARSE(&o, &c, "--version"), 0);
  CHECK_STR(c.out, "musterctl " MUSTER_VERSION "\n");
}

/* ---- Usage errors (exit status 2) ---- */

TEST(usage_errors_of_commands) {
  USAGE_ERROR("no command given", "--json");
  USAGE_ERROR("unknown command \"frob\"", "frob");
  USAGE_ERROR("unknown command \"STATUS\"", "STATUS");
  USAGE_ERROR("start: SERVICE is required", "start");
  USAGE_ERROR("scale: N (the number of instances) is required", "scale", "api");
  USAGE_ERROR("signal: SERVICE is required", "signal");
  USAGE_ERROR("signal: SIGNAL (HUP, USR1, ...) is required", "signal", "api");
  USAGE_ERROR("too many arguments for signal", "signal", "api", "HUP", "x");
  USAGE_ERROR("too many arguments for flush", "flush", "api", "x");
  USAGE_ERROR("env: SERVICE is required", "env");
  USAGE_ERROR("env: INDEX must be a whole number, not \"x1\"", "env", "api", "x1");
  USAGE_ERROR("too many arguments for env", "env", "api", "1", "x");
  USAGE_ERROR("too many arguments for status", "status", "a", "b");
  USAGE_ERROR("too many arguments for reload", "reload", "api");
  USAGE_ERROR("too many arguments for stop", "stop", "a", "b");
  USAGE_ERROR("too many arguments for scale", "scale", "a", "1", "2");
  USAGE_ERROR("too many arguments for logs", "logs", "a", "1", "2");
  USAGE_ERROR("start: SERVICE must not be empty", "start", "");
  USAGE_ERROR("status: SERVICE must not be empty", "status", "");
  USAGE_ERROR("status: -f/--follow is only for logs", "status", "-f");
  USAGE_ERROR("events: -f/--follow is only for logs", "events", "--follow");
}

TEST(usage_errors_of_counts) {
  USAGE_ERROR("N must be a whole number, not \"x\"", "scale", "api", "x");
  USAGE_ERROR("N must be a whole number, not \"1.5\"", "scale", "api", "1.5");
  USAGE_ERROR("N must be a whole number, not \"\"", "logs", "api", "");
  USAGE_ERROR("N must be a whole number, not \"3 \"", "logs", "api", "3 ");
  USAGE_ERROR("N must be a whole number, not \"1000000001\"", "scale", "api", "1000000001");
  USAGE_ERROR("N must be a whole number, not \"99999999999999999999\"", "logs", "a",
              "99999999999999999999");
  USAGE_ERROR("unknown option \"-1\"", "scale", "api", "-1"); /* a dash: an option */
  struct opts o;
  struct captured c;
  CHECK_INT(PARSE(&o, &c, "scale", "api", "1000000000"), -1); /* the largest */
  CHECK_INT(o.req.n, 1000000000);
}

TEST(usage_errors_of_options) {
  USAGE_ERROR("unknown option \"--bogus\"", "--bogus", "status");
  USAGE_ERROR("unknown option \"-x\"", "status", "-x");
  USAGE_ERROR("-s needs a SOCKET path", "status", "-s");
  USAGE_ERROR("--socket needs a SOCKET path", "status", "--socket");
  USAGE_ERROR("the SOCKET path is empty", "-s", "", "status");
  USAGE_ERROR("the SOCKET path is empty", "--socket=", "status");
  USAGE_ERROR("--timeout needs a number of seconds", "wait", "api", "--timeout");
  USAGE_ERROR("--timeout is only for wait", "status", "--timeout", "3");
  USAGE_ERROR("--timeout is only for wait", "top", "--timeout=3");
}

TEST(usage_errors_of_tools) {
  USAGE_ERROR("wait: SERVICE is required", "wait");
  USAGE_ERROR("wait: SERVICE is required", "wait", "");
  USAGE_ERROR("too many arguments for wait", "wait", "a", "b");
  USAGE_ERROR("too many arguments for top", "top", "a");
  USAGE_ERROR("wait: -f/--follow is only for logs", "wait", "a", "-f");
  USAGE_ERROR("top: -f/--follow is only for logs", "-f", "top");
}

/* ---- Values ---- */

static const char *duration(long long ms) {
  static char out[32];
  ctl_client_duration(out, sizeof(out), ms);
  return out;
}

static const char *bytes(long long n) {
  static char out[32];
  ctl_client_bytes(out, sizeof(out), n);
  return out;
}

TEST(durations) {
  CHECK_STR(duration(0), "0s");
  CHECK_STR(duration(999), "0s");
  CHECK_STR(duration(-5000), "0s");
  CHECK_STR(duration(5000), "5s");
  CHECK_STR(duration(59999), "59s");
  CHECK_STR(duration(60000), "1m0s");
  CHECK_STR(duration(192000), "3m12s");
  CHECK_STR(duration(3599999), "59m59s");
  CHECK_STR(duration(3600000), "1h0m");
  CHECK_STR(duration(7440000), "2h4m");
  CHECK_STR(duration(86399999), "23h59m");
  CHECK_STR(duration(86400000), "1d0h");
  CHECK_STR(duration(266400000), "3d2h");
  CHECK_STR(duration(400LL * 86400000), "400d0h");
  char small[4];
  ctl_client_duration(small, sizeof(small), 192000);
  CHECK_STR(small, "3m1"); /* cut to the buffer, terminated */
}

TEST(byte_sizes) {
  CHECK_STR(bytes(0), "0B");
  CHECK_STR(bytes(-1), "0B");
  CHECK_STR(bytes(512), "512B");
  CHECK_STR(bytes(1023), "1023B");
  CHECK_STR(bytes(1024), "1.0K");
  CHECK_STR(bytes(12800), "12.5K");
  CHECK_STR(bytes(3 * 1024 * 1024), "3.0M");
  CHECK_STR(bytes(1288490189), "1.2G");
  CHECK_STR(bytes(5LL << 40), "5.0T");
  CHECK_STR(bytes(3LL << 50), "3.0P");
  CHECK_STR(bytes(8000LL << 50), "8000.0P"); /* no unit past P */
}

TEST(byte_sizes_next_unit_when_rounded_up) {
  /* Just under a unit rounds to "1.0" of it, never "1024.0" of the last. */
  CHECK_STR(bytes(1048575), "1.0M");
  CHECK_STR(bytes(1048524), "1023.9K");
  CHECK_STR(bytes((1LL << 30) - 1), "1.0G");
  CHECK_STR(bytes((1LL << 40) - (1LL << 20)), "1.0T");
}

/* ---- The status table ---- */

static const struct ctl_client_req status_req = {.cmd = CTL_STATUS};

TEST(status_table) {
  const char *reply =
      "{\"ok\":true,\"services\":["
      "{\"name\":\"api\",\"state\":\"running\",\"restarts\":5,\"instances\":["
      "{\"index\":0,\"pid\":4242,\"state\":\"ready\",\"restarts\":1,\"uptime_ms\":192000,"
      "\"rss_bytes\":12800,\"cpu_percent\":1.5,\"inflight\":2,\"requests\":100,"
      "\"last_exit\":null},"
      "{\"index\":1,\"pid\":0,\"state\":\"backoff\",\"restarts\":2,\"uptime_ms\":0,"
      "\"rss_bytes\":0,\"inflight\":0,\"requests\":7,\"last_exit\":{\"code\":1,\"signal\":0}}]},"
      "{\"name\":\"worker\",\"state\":\"stopped\",\"restarts\":0,\"instances\":["
      "{\"index\":0,\"pid\":0,\"state\":\"exited\",\"restarts\":0,\"uptime_ms\":0,"
      "\"rss_bytes\":0,\"inflight\":0,\"requests\":0,"
      "\"last_exit\":{\"code\":0,\"signal\":9}}]}]}";
  /* A row per service (its state and totals), then one per instance. The
   * service's restarts are its own count (instances removed since count). */
  CHECK_STR(
      render(&status_req, reply),
      "SERVICE  #   PID  STATE    UPTIME  RESTARTS   CPU    RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
      "api      -     -  running       -         5  1.5%  12.5K         2       107  -\n"
      "api      0  4242  ready     3m12s         1  1.5%  12.5K         2       100  -\n"
      "api      1     -  backoff       -         2     -      -         0         7  1\n"
      "worker   -     -  stopped       -         0     -      -         0         0  -\n"
      "worker   0     -  exited        -         0     -      -         0         0  SIGKILL\n");
}

TEST(status_note_of_the_next_cron_restart) {
  /* In local time (TZ); a malformed time is left out. */
  setenv("TZ", "UTC", 1);
  tzset();
  CHECK_STR(render(&status_req,
                   "{\"services\":[{\"name\":\"api\",\"state\":\"running\",\"restarts\":0,"
                   "\"next_cron_restart\":\"2026-12-04T04:00:00Z\",\"instances\":[]},"
                   "{\"name\":\"b\",\"state\":\"running\",\"restarts\":0,"
                   "\"next_cron_restart\":\"tomorrow\",\"instances\":[]}]}"),
            "SERVICE  #  PID  STATE    UPTIME  RESTARTS  CPU  RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
            "api      -    -  running       -         0    -    -         0         0  -\n"
            "b        -    -  running       -         0    -    -         0         0  -\n"
            "api: next cron_restart 2026-12-04 04:00:00 UTC\n");
}

TEST(status_table_then_queued_and_quarantined) {
  /* The gateway's fields, and an sd_notify instance's STATUS= text
   * (control characters shown as '?'): a line each after the table, none
   * when empty; a malformed entry is left out. */
  const char *reply =
      "{\"ok\":true,\"services\":["
      "{\"name\":\"api\",\"state\":\"starting\",\"restarts\":0,\"queued\":3,"
      "\"quarantined\":[{\"method\":\"GET\",\"path\":\"/api/crash\",\"left_ms\":27001},"
      "{\"method\":\"DELETE\",\"path\":\"/api/x\\n\",\"left_ms\":90000},{\"method\":1}],"
      "\"instances\":[]},"
      "{\"name\":\"one\",\"state\":\"stopped\",\"restarts\":0,\"queued\":1,"
      "\"quarantined\":[],\"instances\":[]},"
      "{\"name\":\"sd\",\"state\":\"starting\",\"restarts\":0,\"instances\":["
      "{\"index\":0,\"state\":\"starting\",\"restarts\":0,\"status_text\":\"Loading \\u001b[1m\"},"
      "{\"index\":1,\"state\":\"exited\",\"restarts\":0},{\"index\":2,\"status_text\":7}]},"
      "{\"name\":\"calm\",\"state\":\"stopped\",\"restarts\":0,\"queued\":0,"
      "\"quarantined\":[],\"tcp\":[{\"listen\":\"127.0.0.1:7000\",\"connections\":3,"
      "\"total\":120},{\"listen\":\"[::1]:7001\",\"connections\":0,\"total\":0},"
      "{\"listen\":7}],\"instances\":[]}]}";
  CHECK_STR(render(&status_req, reply),
            "SERVICE  #  PID  STATE     UPTIME  RESTARTS  CPU  RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
            "api      -    -  starting       -         0    -    -         0         0  -\n"
            "one      -    -  stopped        -         0    -    -         0         0  -\n"
            "sd       -    -  starting       -         0    -    -         0         0  -\n"
            "sd       0    ?  starting       -         0    -    -         ?         ?  -\n"
            "sd       1    ?  exited         -         0    -    -         ?         ?  -\n"
            "sd       2    ?  ?              -         ?    -    -         ?         ?  -\n"
            "calm     -    -  stopped        -         0    -    -         0         0  -\n"
            "api: 3 requests waiting for an instance\n"
            "api: quarantined GET /api/crash (28s left)\n"
            "api: quarantined DELETE /api/x? (1m30s left)\n"
            "one: 1 request waiting for an instance\n"
            "sd[0] status: Loading ?[1m\n"
            "calm: TCP route 127.0.0.1:7000 (3 open, 120 in all)\n"
            "calm: TCP route [::1]:7001 (0 open, 0 in all)\n");
}

TEST(status_table_sums_without_a_service_count) {
  /* No "restarts" on the service: the instances' sum. RSS sums the
   * instances with a process. */
  const char *reply = "{\"services\":[{\"name\":\"a\",\"state\":\"running\",\"instances\":["
                      "{\"index\":0,\"pid\":10,\"state\":\"ready\",\"restarts\":2,"
                      "\"uptime_ms\":1000,\"rss_bytes\":1024,\"inflight\":1,\"requests\":5},"
                      "{\"index\":1,\"pid\":11,\"state\":\"ready\",\"restarts\":3,"
                      "\"uptime_ms\":2000,\"rss_bytes\":2048,\"inflight\":4,\"requests\":6}]}]}";
  CHECK_STR(render(&status_req, reply),
            "SERVICE  #  PID  STATE    UPTIME  RESTARTS  CPU   RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
            "a        -    -  running       -         5    -  3.0K         5        11  -\n"
            "a        0   10  ready        1s         2    ?  1.0K         1         5  -\n"
            "a        1   11  ready        2s         3    ?  2.0K         4         6  -\n");
}

TEST(status_table_address_column) {
  /* Instances with an address (upstream services) add the ADDRESS column,
   * "-" for those without; without any, the column is left out (above). */
  const char *reply =
      "{\"ok\":true,\"services\":["
      "{\"name\":\"web\",\"state\":\"degraded\",\"restarts\":1,\"instances\":["
      "{\"index\":0,\"pid\":7,\"state\":\"ready\",\"restarts\":0,\"uptime_ms\":1000,"
      "\"rss_bytes\":1024,\"inflight\":0,\"requests\":3,\"address\":\"127.0.0.1:3000\"},"
      "{\"index\":1,\"pid\":0,\"state\":\"backoff\",\"restarts\":1,\"inflight\":0,"
      "\"requests\":0,\"last_exit\":{\"code\":1,\"signal\":0}}]},"
      "{\"name\":\"sock\",\"state\":\"running\",\"restarts\":0,\"instances\":["
      "{\"index\":0,\"pid\":8,\"state\":\"ready\",\"restarts\":0,\"uptime_ms\":1000,"
      "\"rss_bytes\":1024,\"inflight\":0,\"requests\":0,"
      "\"address\":\"unix:/run/a\\u001b.sock\"}]}]}";
  CHECK_STR(
      render(&status_req, reply),
      "SERVICE  #  PID  STATE     UPTIME  RESTARTS  CPU   RSS  INFLIGHT  REQUESTS  LAST EXIT  "
      "ADDRESS\n"
      "web      -    -  degraded       -         1    -  1.0K         0         3  -          -\n"
      "web      0    7  ready         1s         0    ?  1.0K         0         3  -          "
      "127.0.0.1:3000\n"
      "web      1    -  backoff        -         1    -     -         0         0  1          -\n"
      "sock     -    -  running        -         0    -  1.0K         0         0  -          -\n"
      "sock     0    8  ready         1s         0    ?  1.0K         0         0  -          "
      "unix:/run/a?.sock\n");
}

TEST(status_table_unknown_values) {
  /* Missing or odd fields show "?", never garbage or a crash. */
  const char *reply =
      "{\"services\":[{\"name\":\"a\",\"instances\":["
      "{\"pid\":12,\"state\":7,\"restarts\":\"x\",\"inflight\":1e300,\"last_exit\":5},"
      "{\"index\":1,\"state\":\"exited\",\"last_exit\":{\"signal\":1234}},"
      "{\"index\":2,\"pid\":0,\"state\":\"exited\",\"last_exit\":{}}]}]}";
  CHECK_STR(render(&status_req, reply),
            "SERVICE  #  PID  STATE   UPTIME  RESTARTS  CPU  RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
            "a        -    -  ?            -         0    -    -         0         0  -\n"
            "a        ?   12  ?            ?         ?    ?    ?         ?         ?  ?\n"
            "a        1    ?  exited       -         ?    -    -         ?         ?  signal 1234\n"
            "a        2    -  exited       -         ?    -    -         ?         ?  ?\n");
}

TEST(status_table_control_characters_and_width) {
  /* Names must not drive the terminal; UTF-8 takes one column a character;
   * a cell longer than 79 bytes is cut. */
  char reply[512], want[1024];
  char longname[101];
  memset(longname, 'n', 100);
  longname[100] = '\0';
  snprintf(reply, sizeof(reply),
           "{\"services\":[{\"name\":\"caf\\u00e9\",\"state\":\"\\u001b[2Jx\",\"instances\":[]},"
           "{\"name\":\"%s\",\"state\":\"ok\",\"instances\":[]}]}",
           longname);
  snprintf(want, sizeof(want),
           "SERVICE%72s  #  PID  STATE  UPTIME  RESTARTS  CPU  RSS  INFLIGHT  REQUESTS  LAST EXIT\n"
           "caf\xc3\xa9%75s  -    -  ?[2Jx       -         0    -    -         0         0  -\n"
           "%.79s  -    -  ok          -         0    -    -         0         0  -\n",
           "", "", longname);
  CHECK_STR(render(&status_req, reply), want);
}

TEST(status_no_services) {
  CHECK_STR(render(&status_req, "{\"ok\":true,\"services\":[]}"), "no services\n");
}

TEST(status_invalid_replies) {
  CHECK_STR(render(&status_req, "{\"ok\":true}"), "ERROR: no \"services\" array");
  CHECK_STR(render(&status_req, "{\"services\":{}}"), "ERROR: no \"services\" array");
  CHECK_STR(render(&status_req, "{\"services\":[1]}"), "ERROR: a service is not an object");
  CHECK_STR(render(&status_req, "{\"services\":[{\"instances\":[]}]}"),
            "ERROR: a service lacks \"name\" or \"instances\"");
  CHECK_STR(render(&status_req, "{\"services\":[{\"name\":\"a\"}]}"),
            "ERROR: a service lacks \"name\" or \"instances\"");
  CHECK_STR(render(&status_req, "{\"services\":[{\"name\":\"a\",\"instances\":[null]}]}"),
            "ERROR: an instance is not an object");
}

/* ---- Other replies ---- */

TEST(confirmations) {
  struct ctl_client_req r = {.cmd = CTL_START, .service = "api"};
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"api\"}"), "api: starting\n");
  CHECK_STR(render(&r, "{\"ok\":true}"), "api: starting\n"); /* the request's name */
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"a\\u0007b\"}"), "a?b: starting\n");
  r.cmd = CTL_STOP;
  CHECK_STR(render(&r, "{\"ok\":true}"), "api: stopping\n");
  r.cmd = CTL_RESTART;
  CHECK_STR(render(&r, "{\"ok\":true}"), "api: restarted\n");
  r.service = NULL;
  CHECK_STR(render(&r, "{\"ok\":true}"), "?: restarted\n");
  r = (struct ctl_client_req){.cmd = CTL_SCALE, .service = "api", .n = 3};
  CHECK_STR(render(&r, "{\"ok\":true}"), "api: scaling to 3 instances\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"instances\":1}"), "api: scaling to 1 instance\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"instances\":0}"), "api: scaling to 0 instances\n");
  r = (struct ctl_client_req){.cmd = CTL_SIGNAL, .service = "api", .data = "HUP"};
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"api\",\"signal\":\"SIGHUP\",\"instances\":2}"),
            "api: SIGHUP sent to 2 instances\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"instances\":1}"), "api: HUP sent to 1 instance\n");
  r = (struct ctl_client_req){.cmd = CTL_ENV, .service = "api"};
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"api\",\"index\":0,\"pid\":7,\"env\":"
                       "[\"PORT=3000\",\"X=a\\nb\\u001b\"]}"),
            "PORT=3000\nX=a?b?\n");
  r = (struct ctl_client_req){.cmd = CTL_FLUSH};
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"all\",\"bytes\":12800}"),
            "all: log emptied, 12.5K freed\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"service\":\"api\",\"bytes\":\"x\"}"),
            "api: log emptied, 0B freed\n");
  r = (struct ctl_client_req){.cmd = CTL_SHUTDOWN};
  CHECK_STR(render(&r, "{\"ok\":true}"), "muster: shutting down\n");
  r.cmd = CTL_EVENTS;
  CHECK_STR(render(&r, "{\"ok\":true}"), ""); /* the events follow */
  r.cmd = CTL_NONE;
  CHECK_STR(render(&r, "{\"ok\":true}"), "ERROR: unknown command");
}

TEST(version_reply) {
  struct ctl_client_req r = {.cmd = CTL_VERSION};
  CHECK_STR(render(&r, "{\"ok\":true,\"version\":\"0.1.0\"}"), "muster 0.1.0 (server)\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"version\":\"1\\n2\"}"), "muster 1?2 (server)\n");
  CHECK_STR(render(&r, "{\"ok\":true}"), "ERROR: no \"version\"");
  CHECK_STR(render(&r, "{\"ok\":true,\"version\":1}"), "ERROR: no \"version\"");
}

TEST(reload_reply) {
  struct ctl_client_req r = {.cmd = CTL_RELOAD};
  CHECK_STR(render(&r, "{\"ok\":true,\"added\":[\"a\",\"b\"],\"removed\":[\"c\"],"
                       "\"changed\":[\"d\"]}"),
            "reload: added a, b; removed c; changed d\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"added\":[],\"removed\":null,\"changed\":[\"d\"]}"),
            "reload: changed d\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"added\":[],\"removed\":[],\"changed\":[]}"),
            "reload: no service changed\n");
  CHECK_STR(render(&r, "{\"ok\":true}"), "reload: no service changed\n");
  const char *why = "ERROR: \"added\", \"removed\" and \"changed\" must be arrays of names";
  CHECK_STR(render(&r, "{\"ok\":true,\"added\":\"a\"}"), why);
  CHECK_STR(render(&r, "{\"ok\":true,\"changed\":[1]}"), why);
}

TEST(logs_reply) {
  struct ctl_client_req r = {.cmd = CTL_LOGS, .service = "api", .n = 50};
  CHECK_STR(render(&r, "{\"ok\":true,\"lines\":[\"one\",\"two\"]}"), "one\ntwo\n");
  CHECK_STR(render(&r, "{\"ok\":true,\"lines\":[]}"), "");
  CHECK_STR(render(&r, "{\"ok\":true}"), "ERROR: no \"lines\" array");
  CHECK_STR(render(&r, "{\"ok\":true,\"lines\":[\"a\",2]}"), "ERROR: a log line is not a string");
}

/* ---- Streams ---- */

TEST(event_lines) {
  struct ctl_client_req r = {.cmd = CTL_EVENTS};
  CHECK_STR(render_stream(&r, "{\"time\":\"2024-01-02T03:02:01.123Z\",\"type\":\"exit\","
                              "\"service\":\"dummy\",\"index\":1,"
                              "\"detail\":\"killed by signal 9 (Killed)\"}"),
            "03:02:01.123 dummy[1] exit killed by signal 9 (Killed)\n");
  CHECK_STR(render_stream(&r, "{\"time\":\"2024-01-02T03:02:01Z\",\"type\":\"reload\"}"),
            "03:02:01 muster reload\n"); /* the host's own */
  CHECK_STR(render_stream(&r, "{\"type\":\"start\",\"service\":\"a\",\"index\":-1,"
                              "\"detail\":\"\"}"),
            "? a start\n");
  CHECK_STR(render_stream(&r, "{\"time\":\"12:00\",\"type\":\"t\\u001b\",\"service\":\"s\\r\","
                              "\"detail\":\"d\\n\"}"),
            "12:00 s? t? d?\n");
  CHECK_STR(render_stream(&r, "{\"time\":\"x\",\"service\":\"a\"}"),
            "ERROR: an event without \"type\"");
}

TEST(followed_log_lines) {
  struct ctl_client_req r = {.cmd = CTL_LOGS, .service = "a", .n = 5, .follow = 1};
  CHECK_STR(render_stream(&r, "{\"line\":\"hello\"}"), "hello\n");
  CHECK_STR(render_stream(&r, "{\"lines\":[\"x\"]}"),
            "ERROR: a followed log object without \"line\"");
}

TEST(error_replies) {
  CHECK_STR(render_error("{\"ok\":false,\"error\":\"no service \\\"x\\\"\"}"),
            "musterctl: no service \"x\"\n");
  CHECK_STR(render_error("{\"ok\":false,\"error\":\"reload failed\","
                         "\"problems\":[\"a: bad\",7,\"b:\\u001b bad\"]}"),
            "musterctl: reload failed\n  a: bad\n  b:? bad\n");
  CHECK_STR(render_error("{\"ok\":false}"),
            "musterctl: the command failed (the reply gives no reason)\n");
  CHECK_STR(render_error("{\"ok\":false,\"error\":\"\",\"problems\":\"x\"}"),
            "musterctl: the command failed (the reply gives no reason)\n");
}

/* ---- Exit status of a session ---- */

TEST(exit_0_on_a_good_reply) {
  struct captured c;
  CHECK_INT(SESSION(&c, "{\"ok\":true,\"service\":\"api\"}\n", "start", "api"), 0);
  CHECK_STR(c.out, "api: starting\n");
  CHECK_STR(c.err, "");
  /* A last line without its newline still counts. */
  CHECK_INT(SESSION(&c, "{\"ok\":true,\"version\":\"9\"}", "version"), 0);
  CHECK_STR(c.out, "muster 9 (server)\n");
  /* --json prints the reply as received. */
  CHECK_INT(SESSION(&c, "{\"ok\":true, \"x\":1}\n", "--json", "stop", "a"), 0);
  CHECK_STR(c.out, "{\"ok\":true, \"x\":1}\n");
}

TEST(exit_1_on_an_error_reply) {
  struct captured c;
  CHECK_INT(SESSION(&c, "{\"ok\":false,\"error\":\"no service \\\"x\\\"\",\"problems\":[\"p\"]}\n",
                    "stop", "x"),
            1);
  CHECK_STR(c.out, "");
  CHECK_STR(c.err, "musterctl: no service \"x\"\n  p\n");
  CHECK_INT(SESSION(&c, "{\"ok\":false,\"error\":\"e\"}\n", "--json", "stop", "x"), 1);
  CHECK_STR(c.out, "{\"ok\":false,\"error\":\"e\"}\n"); /* and the reason on stderr */
  CHECK_STR(c.err, "musterctl: e\n");
}

TEST(exit_1_on_garbage) {
  struct captured c;
  const char *pre = "musterctl: invalid reply from muster on test.sock: ";
  char want[256];
  CHECK_INT(SESSION(&c, "hello\n", "status"), 1);
  snprintf(want, sizeof(want), "%snot a JSON object\n", pre);
  CHECK_STR(c.err, want);
  CHECK_INT(SESSION(&c, "{\"ok\":\"yes\"}\n", "status"), 1);
  snprintf(want, sizeof(want), "%sno boolean \"ok\"\n", pre);
  CHECK_STR(c.err, want);
  CHECK_INT(SESSION(&c, "{\"ok\":true}\n", "status"), 1);
  snprintf(want, sizeof(want), "%sno \"services\" array\n", pre);
  CHECK_STR(c.err, want);
  CHECK_STR(c.out, "");
}

TEST(exit_1_when_closed_without_reply) {
  struct captured c;
  CHECK_INT(SESSION(&c, "", "status"), 1);
  CHECK_STR(c.err, "musterctl: muster closed test.sock without replying\n");
  CHECK_INT(SESSION(&c, "\n\n", "events"), 1); /* blank lines are no reply */
}

TEST(streams_end_with_the_server) {
  struct captured c;
  CHECK_INT(SESSION(&c,
                    "{\"ok\":true}\n"
                    "{\"time\":\"2024-01-02T03:04:05.006Z\",\"type\":\"ready\","
                    "\"service\":\"a\",\"index\":0}\n"
                    "{\"time\":\"2024-01-02T03:04:06.000Z\",\"type\":\"reload\"}\n",
                    "events"),
            0);
  CHECK_STR(c.out, "03:04:05.006 a[0] ready\n03:04:06.000 muster reload\n");
  CHECK_INT(
      SESSION(&c, "{\"ok\":true,\"lines\":[\"old\"]}\n{\"line\":\"new\"}\n", "logs", "a", "-f"), 0);
  CHECK_STR(c.out, "old\nnew\n");
  /* Without -f the reply is all: what follows is not read. */
  CHECK_INT(SESSION(&c, "{\"ok\":true,\"lines\":[\"old\"]}\n{\"line\":\"new\"}\n", "logs", "a"), 0);
  CHECK_STR(c.out, "old\n");
}

TEST(streams_fail_on_bad_objects) {
  struct captured c;
  const char *pre = "musterctl: invalid reply from muster on test.sock: ";
  char want[256];
  CHECK_INT(SESSION(&c, "{\"ok\":true}\n{\"ok\":true}\n", "events"), 1);
  snprintf(want, sizeof(want), "%sa second reply in a stream\n", pre);
  CHECK_STR(c.err, want);
  CHECK_INT(SESSION(&c, "{\"ok\":true}\n{\"service\":\"a\"}\n", "events"), 1);
  snprintf(want, sizeof(want), "%san event without \"type\"\n", pre);
  CHECK_STR(c.err, want);
  /* An error in the middle of a stream ends it with status 1. */
  CHECK_INT(SESSION(&c, "{\"ok\":true,\"lines\":[]}\n{\"ok\":false,\"error\":\"gone\"}\n", "logs",
                    "a", "-f"),
            1);
  CHECK_STR(c.err, "musterctl: gone\n");
}

int main(void) {
  RUN(command_words);
  RUN(command_service_arguments);
  RUN(streams);
  RUN(request_of_each_command);
  RUN(request_follow_and_options_anywhere);
  RUN(request_words_after_double_dash);
  RUN(request_escapes_the_service);
  RUN(options_and_tools);
  RUN(help_and_version_exit_0);
  RUN(usage_errors_of_commands);
  RUN(usage_errors_of_counts);
  RUN(usage_errors_of_options);
  RUN(usage_errors_of_tools);
  RUN(durations);
  RUN(byte_sizes);
  RUN(byte_sizes_next_unit_when_rounded_up);
  RUN(status_table);
  RUN(status_table_then_queued_and_quarantined);
  RUN(status_note_of_the_next_cron_restart);
  RUN(status_table_sums_without_a_service_count);
  RUN(status_table_address_column);
  RUN(status_table_unknown_values);
  RUN(status_table_control_characters_and_width);
  RUN(status_no_services);
  RUN(status_invalid_replies);
  RUN(confirmations);
  RUN(version_reply);
  RUN(reload_reply);
  RUN(logs_reply);
  RUN(event_lines);
  RUN(followed_log_lines);
  RUN(error_replies);
  RUN(exit_0_on_a_good_reply);
  RUN(exit_1_on_an_error_reply);
  RUN(exit_1_on_garbage);
  RUN(exit_1_when_closed_without_reply);
  RUN(streams_end_with_the_server);
  RUN(streams_fail_on_bad_objects);
  return test_summary();
}
