/* fuzz_gw — the in-process gateway the HTTP drivers (fuzz_http, fuzz_h2)
 * send their inputs to, and their client.
 *
 * A real gateway (gw_server, with gw_conn, gw_proxy, gw_reply and the
 * access log) and a real admin listener run in-process on one libuv loop,
 * on loopback ports picked by the kernel, over a sup_host whose services
 * are configured but never started: a routed request gets 503, others 404,
 * /healthz its answer; every limit (431, 413, 417, 505, 400) is small
 * enough to reach. The client is fuzz_client.h's. Included by one driver
 * each (static). */
#ifndef MUSTER_FUZZ_GW_H
#define MUSTER_FUZZ_GW_H

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "fuzz.h"
#include "fuzz_client.h"
#include "gw.h"
#include "gw_server.h"
#include "sup_host.h"
#include "sup_log.h"

static struct sup_host host;
static struct gw_server *gateway, *admin;
static struct sockaddr_in gateway_addr, admin_addr;
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

/* ---- One exchange ---- */

/* One connection: the input in pieces of `piece` bytes, then our EOF; the
 * server's bytes end up in out (owned by the caller). */
static void exchange(const struct sockaddr_in *sa, const uint8_t *data, size_t size, size_t piece,
                     struct ipc_buf *out) {
  struct client cl;
  client_open(&cl, (const struct sockaddr *)sa);
  send_pieces(&cl, data, size, piece);
  client_finish(&cl);
  *out = cl.got;
}

#endif
