/* fuzz_gw — the in-process gateway the HTTP drivers (fuzz_http, fuzz_h2)
 * send their inputs to, and their client.
 *
 * A real gateway (gw_server, with gw_conn, gw_proxy, gw_reply and the
 * access log) and a real admin listener run in-process on one libuv loop,
 * on loopback ports picked by the kernel, over a sup_host whose services
 * are configured but never started: a routed request gets 503, others 404,
 * /healthz its answer; every limit (431, 413, 417, 505, 400) is small
 * enough to reach. The client is a uv_tcp_t on the same loop, so nothing
 * spins and nothing sleeps. Included by one driver each (static). */
#ifndef MUSTER_FUZZ_GW_H
#define MUSTER_FUZZ_GW_H

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "fuzz.h"
#include "gw.h"
#include "gw_server.h"
#include "sup_host.h"
#include "sup_log.h"

#define GUARD_MS 5000 /* the server must close within this after our EOF */

static uv_loop_t *loop;
static struct sup_host host;
static struct gw_server *gateway, *admin;
static struct sockaddr_in gateway_addr, admin_addr;
static uv_timer_t guard;
static int hung;
static char logdir[] = "/tmp/muster-fuzz-XXXXXX";

/* ---- Setup, once per process ---- */

static void remove_logdir(void) {
  DIR *d = opendir(logdir);
  struct dirent *e;
  char path[sizeof(logdir) + 300];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", logdir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(logdir);
}

static void addr_of(struct gw_server *srv, struct sockaddr_in *sa) {
  int len = sizeof(*sa);
  if (srv == NULL || uv_tcp_getsockname(&srv->listener, (struct sockaddr *)sa, &len) != 0)
    abort();
}

static void setup(void) {
  char text[2048];
  struct sigaction saved[4];
  int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
  if (mkdtemp(logdir) == NULL)
    abort();
  atexit(remove_logdir);
  /* Ports 1 and 2 only pass validation: both listeners bind port 0. */
  snprintf(
      text, sizeof(text),
      "{\"gateway\": {\"listen\": \"127.0.0.1:1\", \"max_header_bytes\": 1024,"
      " \"max_body_bytes\": 512, \"max_connections\": 64, \"access_log\": \"/dev/null\"},"
      " \"admin\": {\"listen\": \"127.0.0.1:2\"},"
      " \"control\": {\"socket\": \"%s/ctl.sock\"}, \"logs\": {\"dir\": \"%s\"},"
      " \"services\": ["
      "  {\"name\": \"s\", \"command\": [\"/bin/true\"], \"routes\": [\"/s\","
      "   {\"prefix\": \"/h\", \"methods\": [\"GET\", \"HEAD\", \"POST\"], \"host\": \"a.b\"}]},"
      "  {\"name\": \"t\", \"command\": [\"/bin/true\"], \"instances\": 2,"
      "   \"routes\": [\"/t/u\"], \"max_inflight\": 1}]}",
      logdir, logdir);
  struct cfg_env env = {.file = "fuzz.json", .dir = "/tmp", .path = "/usr/bin:/bin"};
  struct cfg *cfg = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_parse(text, strlen(text), &env, &cfg, &errs) != 0) {
    cfg_errors_print(&errs, stderr);
    abort();
  }
  cfg_errors_free(&errs);
  cfg->gateway.listen.port = 0;
  cfg->admin.listen.port = 0;
  sup_log_set_level(SUP_ERROR);
  loop = uv_default_loop();
  /* The host takes SIGINT and friends; give them back to libFuzzer. */
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], NULL, &saved[i]);
  if (sup_host_init(&host, loop, cfg, "fuzz.json", NULL) != 0)
    abort();
  uv_signal_stop(&host.sig_term);
  uv_signal_stop(&host.sig_int);
  uv_signal_stop(&host.sig_hup);
  uv_signal_stop(&host.sig_usr1);
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &saved[i], NULL);
  gateway = gw_server_start(&host);
  admin = gateway ? gw_admin_start(&host, gateway) : NULL;
  addr_of(gateway, &gateway_addr);
  addr_of(admin, &admin_addr);
  uv_timer_init(loop, &guard);
}

/* ---- The client ---- */

struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  struct ipc_buf got; /* every byte the server sent */
  int connected;      /* 1 connected, -1 failed */
  int eof;            /* the server closed (or reset) */
  int closed;         /* our handle is closed */
};

static void on_guard(uv_timer_t *t) {
  (void)t;
  hung = 1;
}

static void on_connect(uv_connect_t *req, int status) {
  struct client *cl = req->handle->data;
  cl->connected = status == 0 ? 1 : -1;
}

static void on_client_closed(uv_handle_t *h) {
  ((struct client *)h->data)->closed = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char rbuf[65536];
  (void)h;
  (void)hint;
  buf->base = rbuf;
  buf->len = sizeof(rbuf);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct client *cl = s->data;
  if (nread > 0) {
    ipc_buf_add(&cl->got, buf->base, (size_t)nread);
  } else if (nread < 0 && !cl->eof) {
    cl->eof = 1; /* UV_EOF, or ECONNRESET when it closed with our bytes unread */
    uv_close((uv_handle_t *)s, on_client_closed);
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

/* Writes p[0..n) unless the server has closed. */
static void send_bytes(struct client *cl, const char *p, size_t n) {
  while (n > 0 && !cl->eof && !hung) {
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w == UV_EAGAIN) {
      uv_run(loop, UV_RUN_ONCE); /* the server reads, or the guard fires */
    } else {
      return; /* EPIPE, ECONNRESET: the server is gone; its EOF follows */
    }
  }
}

/* One connection: the input in pieces of `piece` bytes, then our EOF; the
 * server's bytes end up in out (owned by the caller). */
static void exchange(const struct sockaddr_in *sa, const uint8_t *data, size_t size, size_t piece,
                     struct ipc_buf *out) {
  struct client cl;
  memset(&cl, 0, sizeof(cl));
  ipc_buf_init(&cl.got);
  hung = 0;
  uv_timer_start(&guard, on_guard, GUARD_MS, 0);
  uv_tcp_init(loop, &cl.tcp);
  cl.tcp.data = &cl;
  uv_tcp_connect(&cl.creq, &cl.tcp, (const struct sockaddr *)sa, on_connect);
  while (cl.connected == 0 && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(cl.connected == 1, "cannot connect to the gateway");
  uv_tcp_nodelay(&cl.tcp, 1);
  uv_read_start((uv_stream_t *)&cl.tcp, on_alloc, on_client_read);
  for (size_t off = 0; off < size && !cl.eof; off += piece) {
    send_bytes(&cl, (const char *)data + off, size - off < piece ? size - off : piece);
    if (piece < size)
      uv_run(loop, UV_RUN_NOWAIT); /* the server reads this piece alone */
  }
  if (!cl.eof)
    uv_shutdown(&cl.sreq, (uv_stream_t *)&cl.tcp, on_shutdown);
  while (!cl.closed && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(!hung, "the server did not close within %d ms of the client's EOF", GUARD_MS);
  uv_timer_stop(&guard);
  uv_run(loop, UV_RUN_NOWAIT); /* the server's close callbacks */
  *out = cl.got;
}

#endif
