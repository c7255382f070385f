/* sup_health — health checks: HTTP GET or a command. See sup_health.h. */
#include "sup_health.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sup_exec.h"
#include "sup_host.h"
#include "sup_instance.h"
#include "sup_proc.h"
#include "sup_service.h"
#include "util_unix.h"

#define HEAD_MAX 256 /* the status line must fit */

struct sup_hcheck {
  struct sup_instance *inst; /* NULL once detached (result given, or cancelled) */
  char *path;                /* http: the path (a copy: a reload may free the config) */
  int port;                  /* http: host:port */
  const char *host;          /* http: "127.0.0.1", or "[::1]" where the probe found the port */
  uv_tcp_t tcp;              /* http */
  uv_connect_t conn;
  uv_write_t wreq;
  char req[1024];      /* http: the request */
  char head[HEAD_MAX]; /* http: the response's first bytes */
  size_t len;
  uv_process_t proc; /* command */
  pid_t pid;         /* command: its pid (and process group) */
  int open;          /* handles not yet closed */
  unsigned http : 1;
  unsigned exited : 1; /* command: its exit callback ran */
};

/* ---- Results and closing ---- */

/* A handle of the check is closed: the check is freed with its last. */
static void on_closed(uv_handle_t *h) {
  struct sup_hcheck *c = h->data;
  if (--c->open > 0)
    return;
  free(c->path);
  free(c);
}

/* Gives the result to the instance (once) and detaches. */
static void deliver(struct sup_hcheck *c, int ok, const char *why) {
  struct sup_instance *inst = c->inst;
  c->inst = NULL;
  if (inst != NULL)
    sup_instance_health_done(inst, c, ok, why);
}

/* Closes the http check's connection (once). */
static void close_tcp(struct sup_hcheck *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

void sup_health_cancel(struct sup_hcheck *c) {
  c->inst = NULL;
  if (c->http)
    close_tcp(c);
  else if (!c->exited)
    sup_proc_kill_group(c->pid, SIGKILL); /* the exit callback closes */
}

/* ---- HTTP ---- */

int sup_health_status_line(const char *buf, size_t len, int *status) {
  static const char proto[] = "HTTP/1.";
  size_t n = len < 7 ? len : 7;
  if (memcmp(buf, proto, n) != 0)
    return -1;
  const char *eol = memchr(buf, '\n', len);
  if (eol == NULL)
    return len >= HEAD_MAX ? -1 : 0;
  /* "HTTP/1.x SSS" then a space, CR or the end of the line */
  if (eol - buf < 12 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ')
    return -1;
  for (int i = 9; i < 12; i++)
    if (buf[i] < '0' || buf[i] > '9')
      return -1;
  if (buf + 12 != eol && buf[12] != ' ' && buf[12] != '\r')
    return -1;
  *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  return 1;
}

/* The http check failed before a status: says why, and closes. */
static void http_fail(struct sup_hcheck *c, const char *what, int err) {
  char why[160];
  snprintf(why, sizeof(why), "GET %s on %s:%d: %s%s%s", c->path, c->host, c->port, what,
           err ? ": " : "", err ? uv_strerror(err) : "");
  deliver(c, 0, why);
  close_tcp(c);
}

/* Reads go into the rest of the head buffer. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  struct sup_hcheck *c = h->data;
  *b = uv_buf_init(c->head + c->len, (unsigned)(HEAD_MAX - c->len));
}

/* Bytes of the answer: the result once the status line is complete. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct sup_hcheck *c = s->data;
  char why[160];
  int status = 0;
  if (c->inst == NULL || n == 0)
    return;
  if (n < 0) {
    http_fail(c, "connection closed before the status line", n == UV_EOF ? 0 : (int)n);
    return;
  }
  c->len += (size_t)n;
  int rc = sup_health_status_line(c->head, c->len, &status);
  if (rc == 0)
    return;
  if (rc < 0) {
    http_fail(c, "the answer is not HTTP/1.x", 0);
    return;
  }
  snprintf(why, sizeof(why), "GET %s on %s:%d: status %d", c->path, c->host, c->port, status);
  deliver(c, status >= 200 && status <= 299, why);
  close_tcp(c);
}

/* The request is sent (or could not be). */
static void on_written(uv_write_t *w, int status) {
  struct sup_hcheck *c = w->data;
  if (status < 0 && c->inst != NULL)
    http_fail(c, "sending the request failed", status);
}

/* Connected (or refused): sends the request and reads the answer. */
static void on_connect(uv_connect_t *req, int status) {
  struct sup_hcheck *c = req->data;
  if (c->inst == NULL)
    return; /* cancelled: the handle is closing */
  if (status < 0) {
    http_fail(c, "connect failed", status);
    return;
  }
  uv_buf_t b = uv_buf_init(c->req, (unsigned)strlen(c->req));
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0)
    http_fail(c, "sending the request failed", rc);
}

/* Starts GET path on 127.0.0.1:PORT ([::1] when the readiness probe found
 * the program there). Returns 0 or -1 (why set; c closing). */
static int start_http(struct sup_hcheck *c, struct sup_instance *inst, char *why, size_t wl) {
  struct sockaddr_storage sa;
  const char *path = inst->svc->cfg->health.path;
  const struct sup_run *run = inst->run;
  c->http = 1;
  c->port = run->health_port;
  int ipv6 = run->up_ipv6 && c->port == run->up_port;
  c->host = util_loopback_name(ipv6);
  if (c->port == 0 || (c->path = strdup(path)) == NULL) {
    snprintf(why, wl, "GET %s: %s", path,
             c->port ? "out of memory" : "no PORT (1..65535) in the instance's environment");
    free(c);
    return -1;
  }
  snprintf(c->req, sizeof(c->req),
           "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: muster-health\r\n"
           "Connection: close\r\n\r\n",
           c->path, c->host, c->port);
  uv_tcp_init(sup_host_loop(inst->svc->host), &c->tcp);
  c->tcp.data = c->conn.data = c;
  c->open = 1;
  util_loopback_addr(&sa, c->port, ipv6);
  int rc = uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&sa, on_connect);
  if (rc < 0) {
    snprintf(why, wl, "GET %s on %s:%d: connect failed: %s", c->path, c->host, c->port,
             uv_strerror(rc));
    close_tcp(c);
    return -1;
  }
  return 0;
}

/* ---- Command ---- */

/* The health command ended: exit 0 is healthy. */
static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  struct sup_hcheck *c = p->data;
  char why[160];
  c->exited = 1;
  sup_proc_kill_group(c->pid, SIGKILL); /* whatever it forked and left */
  if (sig)
    snprintf(why, sizeof(why), "the health command was killed by signal %d (%s)", sig,
             strsignal(sig));
  else
    snprintf(why, sizeof(why), "the health command exited with code %d", (int)status);
  deliver(c, status == 0 && sig == 0, why);
  uv_close((uv_handle_t *)p, on_closed);
}

/* Runs the command with the instance's environment, cwd and user.
 * Returns 0 or -1 (why set; c closing or freed). */
static int start_command(struct sup_hcheck *c, struct sup_instance *inst, char *why, size_t wl) {
  const struct cfg_service *cfg = inst->svc->cfg;
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  char *owned;
  char **argv = sup_exec_argv(&cfg->as, NULL, cfg->health.command, &owned);
  if (argv == NULL || inst->run->health_env == NULL) {
    snprintf(why, wl, "out of memory starting the health command");
    free(owned);
    free(c);
    return -1;
  }
  memset(&o, 0, sizeof(o));
  for (int i = 0; i < 3; i++)
    stdio[i].flags = UV_IGNORE; /* its output is not kept */
  o.file = argv == cfg->health.command ? argv[0] : SUP_EXEC_SELF;
  o.args = argv;
  o.env = inst->run->health_env;
  o.cwd = cfg->cwd;
  o.flags = UV_PROCESS_DETACHED; /* its own process group */
  o.stdio = stdio;
  o.stdio_count = 3;
  o.exit_cb = on_proc_exit;
  c->proc.data = c;
  int rc = uv_spawn(sup_host_loop(inst->svc->host), &c->proc, &o);
  free(owned);
  c->open = 1; /* uv_spawn initialised the handle, failed or not */
  if (rc < 0) {
    snprintf(why, wl, "spawn \"%s\" failed: %s", cfg->health.command[0], uv_err_name(rc));
    uv_close((uv_handle_t *)&c->proc, on_closed);
    return -1;
  }
  c->pid = c->proc.pid;
  return 0;
}

struct sup_hcheck *sup_health_start(struct sup_instance *inst, char *why, size_t whylen) {
  struct sup_hcheck *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    snprintf(why, whylen, "out of memory starting a health check");
    return NULL;
  }
  int rc = inst->svc->cfg->health.kind == CFG_HEALTH_HTTP ? start_http(c, inst, why, whylen)
                                                          : start_command(c, inst, why, whylen);
  if (rc < 0)
    return NULL;
  c->inst = inst;
  return c;
}
