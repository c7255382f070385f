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

#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "fuzz.h"
#include "fuzz_client.h"
#include "fuzz_host.h"
#include "gw.h"
#include "gw_server.h"
#include "sup_host.h"
#include "sup_log.h"

static struct sup_host host;
static struct cfg *gw_cfg; /* the host's config: a driver may switch gateway settings */
static struct gw_server *gateway, *admin;
static struct sockaddr_in gateway_addr, admin_addr;
static char logdir[] = "/tmp/muster-fuzz-XXXXXX";

/* ---- Setup, once per process ---- */

static void addr_of(struct gw_server *srv, struct sockaddr_in *sa) {
  int len = sizeof(*sa);
  if (srv == NULL || srv->listener == NULL ||
      uv_tcp_getsockname(srv->listener, (struct sockaddr *)sa, &len) != 0)
    abort();
}

static void setup(void) {
  char text[4096];
  fuzz_dir_make(logdir);
  /* Ports 1 and 2 only pass validation: both listeners bind port 0.
   * Compression (every answer: min_bytes 0) and a rate limit never
   * reached run on every request. No static[]: a file not in the
   * kernel's caches is looked up on the thread pool, after the client's
   * EOF has abandoned its request, which the reference cannot tell from
   * a lost answer (gw_file has fuzz_file; the handler, test_static). */
  snprintf(
      text, sizeof(text),
      "{\"gateway\": {\"listen\": \"127.0.0.1:1\", \"max_header_bytes\": 1024,"
      " \"max_body_bytes\": 512, \"max_connections\": 64, \"access_log\": \"/dev/null\","
      " \"compression\": {\"min_bytes\": 0, \"types\": [\"text/*\", \"application/json\"]},"
      " \"rate_limit\": {\"rate\": 1000000, \"burst\": 1000000}},"
      " \"admin\": {\"listen\": \"127.0.0.1:2\"},"
      " \"control\": {\"socket\": \"%s/ctl.sock\"}, \"logs\": {\"dir\": \"%s\"},"
      " \"services\": ["
      "  {\"name\": \"s\", \"command\": [\"/bin/true\"], \"routes\": [\"/s\","
      "   {\"prefix\": \"/h\", \"methods\": [\"GET\", \"HEAD\", \"POST\"], \"host\": \"a.b\"}]},"
      "  {\"name\": \"t\", \"command\": [\"/bin/true\"], \"instances\": 2,"
      "   \"routes\": [\"/t/u\"], \"max_inflight\": 1}]}",
      logdir, logdir);
  struct cfg *cfg = gw_cfg = fuzz_cfg(text);
  cfg->gateway.listen.port = 0;
  cfg->admin.listen.port = 0;
  loop = uv_default_loop();
  fuzz_host_init(&host, loop, cfg);
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
