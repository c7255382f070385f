/* musterctl — the control client of muster (SPEC §1, §5).
 *
 *   musterctl [-s SOCKET] [--json] COMMAND [ARGS]
 *
 * Sends one request line to muster's control socket and prints the reply:
 * as the server sent it with --json, else as text for people (a status
 * table, one-line confirmations, log lines, one line per event). `events`
 * and `logs -f` keep printing until the server closes or SIGINT. Exit
 * status: 0 ok, 1 the command failed or muster could not be reached or
 * answered garbage, 2 usage error.
 *
 * Blocking sockets and plain read/write: one request, one connection. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "ctl_client_conn.h"
#include "ctl_client_fmt.h"
#include "ctl_client_tools.h"
#include "ipc_buf.h"
#include "ipc_frame.h"

#ifndef MUSTER_VERSION
#define MUSTER_VERSION "unknown"
#endif

#define DEFAULT_SOCKET "config/run/muster.sock" /* the demo config's, from the repo root */
#define REPLY_MAX IPC_FRAME_MAX_DEFAULT         /* 64 MiB */
#define COUNT_MAX 1000000000LL                  /* N beyond this is a typo */

/* Results of a line callback; ipc_frame_feed() hands them back. */
enum { LINE_MORE = 0, LINE_DONE, LINE_FAIL };

static void usage(FILE *f) {
  fprintf(f,
          "usage: musterctl [-s SOCKET] [--json] COMMAND [ARGS]\n"
          "commands:\n"
          "  status [SERVICE]        services and their instances\n"
          "  start SERVICE|all       start a service (also clears \"failed\")\n"
          "  stop SERVICE|all        stop every instance gracefully\n"
          "  restart SERVICE|all     rolling restart; returns once it is complete\n"
          "                          (all: every service, one after another)\n"
          "  scale SERVICE N|+N      run N instances (+N: N more)\n"
          "  signal SERVICE|all SIG  send SIG (HUP, USR1, ...) to each instance's main process\n"
          "  reload                  re-read the config file and apply the difference\n"
          "  logs [SERVICE] [N] [-f] the last N (default %d) lines of the service's output\n"
          "                          (without SERVICE: every service's, in time order)\n"
          "                          (or -n N, --lines N); -f, --follow: then every new\n"
          "                          line until interrupted\n"
          "  flush [SERVICE|all]     empty the service's log files (without SERVICE: all)\n"
          "  env SERVICE [INDEX]     the environment instance INDEX (default 0) started with\n"
          "  events                  the host's events as they happen, until interrupted\n"
          "  drain                   fail /readyz, close kept-alive clients, then stop accepting\n"
          "  undrain                 accept again after a drain\n"
          "  rooms                   the rooms and their members (connections, instances)\n"
          "  publish ROOM TEXT       publish TEXT to ROOM, as a service would\n"
          "  shutdown                stop muster gracefully\n"
          "  version                 the server's version\n"
          "  wait SERVICE [--timeout S]  exit 0 once SERVICE has a ready instance, 1 when it\n"
          "                          is failed or after S seconds (default 30; 0: no limit)\n"
          "  top                     a live full-screen view (q quits, j/k or arrows select)\n"
          "options:\n"
          "  -s, --socket SOCKET     control socket (default: $MUSTER_SOCKET, then\n"
          "                          " DEFAULT_SOCKET ", the demo config's socket)\n"
          "  --json                  print the server's replies as received, one JSON per line\n"
          "  -h, --help              this help\n"
          "  --version               musterctl's version\n"
          "exit status: 0 ok, 1 the command failed or muster could not be reached, 2 usage\n",
          CTL_LINES_DEFAULT);
}

/* ---- Command line ---- */

enum tool { TOOL_NONE = 0, TOOL_WAIT, TOOL_TOP }; /* commands of ctl_client_tools.h */

struct opts {
  const char *socket;        /* -s, else NULL */
  int json;                  /* --json */
  enum tool tool;            /* wait or top instead of one request */
  const char *timeout;       /* wait --timeout S, else NULL */
  const char *lines;         /* logs -n N (as tail and journalctl take it), else NULL */
  struct ctl_client_req req; /* what to send */
};

/* Reports a usage error (a printf format) and returns 2, the exit status. */
__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "musterctl: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  usage(stderr);
  return 2;
}

/* Parses a count N: decimal digits only, at most COUNT_MAX. Returns 0,
 * UV_EINVAL (not digits) or UV_ERANGE (too large). */
static int parse_count(const char *s, long long *out) {
  long long v = 0;
  if (*s == '\0')
    return UV_EINVAL;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return UV_EINVAL;
    if ((v = v * 10 + (*s - '0')) > COUNT_MAX)
      return UV_ERANGE;
  }
  *out = v;
  return 0;
}

/* Reads wait/top and their arguments. Returns 0 or 2 (usage). */
static int parse_tool(struct opts *o, char **words, int n, int follow) {
  o->tool = strcmp(words[0], "wait") == 0 ? TOOL_WAIT : TOOL_TOP;
  if (follow)
    return bad_usage("%s: -f/--follow is only for logs", words[0]);
  if (o->tool == TOOL_TOP && n > 1)
    return bad_usage("too many arguments for top");
  if (o->tool == TOOL_TOP && o->timeout)
    return bad_usage("--timeout is only for wait");
  if (o->tool == TOOL_TOP)
    return 0;
  if (n < 2 || words[1][0] == '\0')
    return bad_usage("wait: SERVICE is required");
  if (n > 2)
    return bad_usage("too many arguments for wait");
  o->req.service = words[1];
  return 0;
}

/* The words after SERVICE (checked for their count already): signal's
 * name, env's index, scale's and logs' N. Returns 0 or 2 (usage). */
static int parse_rest(struct opts *o, char **words, int n, int follow) {
  struct ctl_client_req *r = &o->req;
  if (r->cmd == CTL_SIGNAL) { /* signal SERVICE SIGNAL: the server knows the names */
    r->data = words[2];
    return 0;
  }
  if (r->cmd == CTL_ENV) { /* env SERVICE [INDEX] */
    r->n = 0;
    if (n >= 3 && parse_count(words[2], &r->n) != 0)
      return bad_usage("env: INDEX must be a whole number, not \"%s\"", words[2]);
    return 0;
  }
  r->n = CTL_LINES_DEFAULT;
  const char *count = o->lines ? o->lines : n >= 3 ? words[2] : NULL;
  if (r->cmd == CTL_SCALE && count[0] == '+' && count[1] != '\0') { /* pm2 scale app +3 */
    r->add = 1;
    count++;
  }
  if (count && parse_count(count, &r->n) != 0)
    return bad_usage("N must be a whole number, not \"%s\"", count);
  r->follow = follow;
  return 0;
}

/* Turns the positional words into the request. Returns 0 or 2 (usage). */
static int parse_command(struct opts *o, char **words, int n, int follow) {
  struct ctl_client_req *r = &o->req;
  if (n == 0)
    return bad_usage("no command given");
  if (strcmp(words[0], "wait") == 0 || strcmp(words[0], "top") == 0)
    return parse_tool(o, words, n, follow);
  if (o->timeout)
    return bad_usage("--timeout is only for wait");
  if (ctl_client_cmd_find(words[0], &r->cmd) != 0)
    return bad_usage("unknown command \"%s\"", words[0]);
  if (r->cmd == CTL_PUBLISH) { /* publish ROOM TEXT */
    if (n != 3 || words[1][0] == '\0')
      return bad_usage("publish: ROOM and TEXT are required");
    r->topic = words[1];
    r->data = words[2];
    return follow ? bad_usage("publish: -f/--follow is only for logs") : 0;
  }
  const char *name = words[0];
  int svc = ctl_client_cmd_service(r->cmd);
  int max =
      1 + (svc != 0) +
      (r->cmd == CTL_SCALE || r->cmd == CTL_LOGS || r->cmd == CTL_SIGNAL || r->cmd == CTL_ENV);
  if (svc == 1 && n < 2)
    return bad_usage("%s: SERVICE is required", name);
  if (r->cmd == CTL_SCALE && n < 3)
    return bad_usage("scale: N (the number of instances) is required");
  if (r->cmd == CTL_SIGNAL && n < 3)
    return bad_usage("signal: SIGNAL (HUP, USR1, ...) is required");
  if (n > max)
    return bad_usage("too many arguments for %s", name);
  if (follow && r->cmd != CTL_LOGS)
    return bad_usage("%s: -f/--follow is only for logs", name);
  if (o->lines && r->cmd != CTL_LOGS)
    return bad_usage("%s: -n/--lines is only for logs", name);
  if (o->lines && n >= 3)
    return bad_usage("logs: N given twice (\"%s\" and -n %s)", words[2], o->lines);
  if (svc != 0 && n >= 2) {
    if (words[1][0] == '\0')
      return bad_usage("%s: SERVICE must not be empty", name);
    r->service = words[1];
  }
  return parse_rest(o, words, n, follow);
}

/* An option with a value at argv[*i]: "SHORT V" (short may be NULL),
 * "LONG V" or "LONG=V". Returns 1 when it is that option, with *out set
 * (*i past V) or *rc the usage error of a missing V ("what" names it);
 * else 0. */
static int option_value(int argc, char **argv, int *i, const char *shrt, const char *lng,
                        const char *what, const char **out, int *rc) {
  const char *a = argv[*i];
  size_t n = strlen(lng);
  if (strncmp(a, lng, n) == 0 && a[n] == '=') {
    *out = a + n + 1;
    return 1;
  }
  if (strcmp(a, lng) != 0 && (shrt == NULL || strcmp(a, shrt) != 0))
    return 0;
  if (*i + 1 >= argc)
    *rc = bad_usage("%s needs %s", a, what);
  else
    *out = argv[++*i];
  return 1;
}

/* Parses argv into o. Options may come before or after the command.
 * Returns -1 to go on, else the exit status (0 after --help/--version). */
static int parse_args(struct opts *o, int argc, char **argv) {
  char **words = calloc((size_t)argc, sizeof(*words));
  int n = 0, follow = 0, rc = -1, opts_done = 0;
  if (words == NULL) {
    fprintf(stderr, "musterctl: out of memory\n");
    return 1;
  }
  for (int i = 1; i < argc && rc < 0; i++) {
    const char *a = argv[i];
    if (opts_done || a[0] != '-' || a[1] == '\0') {
      words[n++] = argv[i];
    } else if (strcmp(a, "--") == 0) {
      opts_done = 1;
    } else if (option_value(argc, argv, &i, "-s", "--socket", "a SOCKET path", &o->socket, &rc) ||
               option_value(argc, argv, &i, NULL, "--timeout", "a number of seconds", &o->timeout,
                            &rc) ||
               option_value(argc, argv, &i, "-n", "--lines", "a number of lines", &o->lines, &rc)) {
      /* taken */
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
      follow = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      rc = 0;
    } else if (strcmp(a, "--version") == 0) {
      printf("musterctl %s\n", MUSTER_VERSION);
      rc = 0;
    } else {
      rc = bad_usage("unknown option \"%s\"", a);
    }
  }
  if (rc < 0 && o->socket != NULL && o->socket[0] == '\0')
    rc = bad_usage("the SOCKET path is empty");
  if (rc < 0 && parse_command(o, words, n, follow) != 0)
    rc = 2;
  free(words);
  return rc;
}

/* ---- Replies ---- */

struct session {
  const struct opts *o;
  const char *socket; /* where we are connected, for messages */
  int streaming;      /* events / logs -f: lines follow the reply */
  int replied;        /* the first reply has been handled */
  int exit_code;      /* when a callback returns LINE_FAIL */
  struct ipc_buf out; /* text to print, reused */
};

/* Writes b to f and empties b. Streams are flushed line by line so a
 * reader sees each line as it comes. */
static void put(struct ipc_buf *b, FILE *f, int flush) {
  if (b->len > 0)
    fwrite(b->data, 1, b->len, f);
  ipc_buf_reset(b);
  if (flush)
    fflush(f);
}

/* Reports a reply that is not what the protocol promises. */
static int bad_reply(struct session *s, const char *why) {
  fprintf(stderr, "musterctl: invalid reply from muster on %s: %s\n", s->socket, why);
  s->exit_code = 1;
  return LINE_FAIL;
}

/* Handles one line from the server: the reply to the request, then (for
 * streams) every object that follows it. */
static int on_line(void *ctx, const char *line, size_t len) {
  struct session *s = ctx;
  const char *why = "?";
  int rc = LINE_MORE;
  cJSON *msg = cJSON_ParseWithLength(line, len);
  if (!cJSON_IsObject(msg)) {
    cJSON_Delete(msg);
    return bad_reply(s, "not a JSON object");
  }
  const cJSON *ok = cJSON_GetObjectItemCaseSensitive(msg, "ok");
  if (s->replied && ok == NULL) { /* an event or a followed line */
    if (s->o->json) {
      ipc_buf_add(&s->out, line, len);
      ipc_buf_addc(&s->out, '\n');
    } else if (ctl_client_render_stream(&s->out, &s->o->req, msg, &why) != 0) {
      rc = bad_reply(s, why);
    }
  } else if (!cJSON_IsBool(ok)) {
    rc = bad_reply(s, "no boolean \"ok\"");
  } else {
    if (s->o->json) {
      ipc_buf_add(&s->out, line, len);
      ipc_buf_addc(&s->out, '\n');
    }
    if (cJSON_IsFalse(ok)) {
      struct ipc_buf err;
      ipc_buf_init(&err);
      ctl_client_render_error(&err, msg);
      put(&s->out, stdout, 1);
      put(&err, stderr, 1);
      ipc_buf_free(&err);
      s->exit_code = 1;
      rc = LINE_FAIL;
    } else if (s->replied) {
      rc = bad_reply(s, "a second reply in a stream");
    } else if (!s->o->json && ctl_client_render(&s->out, &s->o->req, msg, &why) != 0) {
      rc = bad_reply(s, why);
    } else {
      s->replied = 1;
      rc = s->streaming ? LINE_MORE : LINE_DONE;
    }
  }
  if (rc != LINE_FAIL)
    put(&s->out, stdout, s->streaming);
  ipc_buf_reset(&s->out);
  cJSON_Delete(msg);
  return rc;
}

/* ---- Streams and SIGINT ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

/* For a stream, SIGINT ends musterctl quietly with status 0. It is blocked
 * except inside ppoll() (no race between checking the flag and sleeping);
 * *wait_mask receives the mask to sleep with. A SIGINT ignored by our
 * parent stays ignored. */
static void catch_sigint(sigset_t *wait_mask) {
  struct sigaction sa, old;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, wait_mask);
  sigdelset(wait_mask, SIGINT);
  if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
    return;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

/* Waits until fd is readable. Returns 0, 1 after SIGINT, or -errno. */
static int wait_readable(int fd, const sigset_t *wait_mask) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  for (;;) {
    if (interrupted)
      return 1;
    if (ppoll(&p, 1, NULL, wait_mask) >= 0)
      return 0;
    if (errno != EINTR)
      return -errno;
  }
}

/* Reads replies until the request is answered (or, for a stream, until
 * the server closes). Returns the exit status. */
static int run_session(struct session *s, int fd) {
  static char buf[65536];
  struct ipc_frame frame;
  sigset_t wait_mask;
  int code = 1;
  ipc_frame_init(&frame, REPLY_MAX);
  if (s->streaming)
    catch_sigint(&wait_mask);
  for (;;) {
    int rc = s->streaming ? wait_readable(fd, &wait_mask) : 0;
    if (rc == 1) {
      code = 0; /* SIGINT: the user is done watching */
      break;
    }
    ssize_t n = rc == 0 ? read(fd, buf, sizeof(buf)) : -1;
    if (n < 0 && rc == 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "musterctl: read from %s failed: %s\n", s->socket,
              strerror(rc < 0 ? -rc : errno));
      break;
    }
    /* At the end, a last line without its newline still counts. */
    rc = n > 0 ? ipc_frame_feed(&frame, buf, (size_t)n, on_line, s)
               : ipc_frame_feed(&frame, "\n", 1, on_line, s);
    if (rc == LINE_DONE) {
      code = 0;
    } else if (rc == LINE_FAIL) {
      code = s->exit_code;
    } else if (rc == UV_E2BIG) {
      fprintf(stderr, "musterctl: reply from %s longer than %zu MiB\n", s->socket,
              (size_t)(REPLY_MAX >> 20));
    } else if (rc != 0) {
      fprintf(stderr, "musterctl: out of memory reading from %s\n", s->socket);
    } else if (n == 0 && !s->replied) {
      fprintf(stderr, "musterctl: muster closed %s without replying\n", s->socket);
    } else if (n == 0) {
      code = 0; /* the server ended the stream */
    } else {
      continue;
    }
    break;
  }
  ipc_frame_free(&frame);
  return code;
}

/* ---- Main ---- */

/* Runs wait or top on the connected fd (which it takes over). */
static int run_tool(const struct opts *o, int fd, const char *path) {
  char *end = NULL;
  double t = o->timeout ? strtod(o->timeout, &end) : CTL_WAIT_DEFAULT_S;
  if (o->tool == TOOL_TOP)
    return ctl_client_top(fd, path);
  if (o->timeout && (end == o->timeout || *end != '\0' || !(t >= 0 && t <= 1e9))) {
    close(fd);
    return bad_usage("--timeout: S must be a number of seconds, not \"%s\"", o->timeout);
  }
  int code = ctl_client_wait(fd, path, o->req.service, t, o->json);
  fflush(stdout);
  return code;
}

/* The socket to use: -s, then $MUSTER_SOCKET, then the demo config's.
 * *how says which, for the hint when it cannot be reached. */
static const char *pick_socket(const struct opts *o, const char **how) {
  const char *env = getenv("MUSTER_SOCKET");
  if (o->socket != NULL) {
    *how = "-s";
    return o->socket;
  }
  if (env != NULL && *env != '\0') {
    *how = "$MUSTER_SOCKET";
    return env;
  }
  *how = NULL;
  return DEFAULT_SOCKET;
}

int main(int argc, char **argv) {
  struct opts o;
  const char *how;
  memset(&o, 0, sizeof(o));
  int code = parse_args(&o, argc, argv);
  if (code >= 0)
    return code;

  const char *path = pick_socket(&o, &how);
  int fd = ctl_client_connect(path);
  if (fd < 0) {
    fprintf(stderr, "musterctl: cannot connect to %s: %s\n", path, strerror(-fd));
    if (fd == -ENOENT || fd == -ECONNREFUSED) {
      if (how != NULL)
        fprintf(stderr, "musterctl: is muster running? (socket from %s)\n", how);
      else
        fprintf(stderr, "musterctl: is muster running? Without -s SOCKET or $MUSTER_SOCKET, "
                        "musterctl uses the demo config's socket, relative to the current "
                        "directory; point it at muster's control socket with either.\n");
    }
    return 1;
  }

  if (o.tool != TOOL_NONE)
    return run_tool(&o, fd, path);

  struct session s = {.o = &o, .socket = path, .streaming = ctl_client_streams(&o.req)};
  ipc_buf_init(&s.out);
  ctl_client_request(&s.out, &o.req);
  int rc = s.out.oom ? -ENOMEM : ctl_client_send_all(fd, s.out.data, s.out.len);
  ipc_buf_reset(&s.out);
  if (rc != 0) {
    fprintf(stderr, "musterctl: sending the request to %s failed: %s\n", path, strerror(-rc));
    code = 1;
  } else {
    code = run_session(&s, fd);
  }
  ipc_buf_free(&s.out);
  close(fd);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "musterctl: writing the output failed: %s\n", strerror(errno));
    code = 1;
  }
  return code;
}
