/* gw_up — programs that serve HTTP for themselves (SPEC §9): the upstream
 * handler (gw_up.c), WebSocket tunnels (gw_tunnel.c) and TCP routes
 * (gw_tcp.c). Connections to the programs are gw_up_pool's. */
#ifndef MUSTER_GW_UP_H
#define MUSTER_GW_UP_H

#include <stddef.h>

#include "ipc_msg.h"

struct gw_req;
struct gw_server;
struct gw_up_conn;
struct sup_host;
struct sup_instance;

/* ---- gw_up.c ---- */

/* Takes every request routed to an upstream service, at its head. */
extern const struct gw_handler gw_up_handler;

/* inst's process is gone: its pool goes, its requests stop counting on it
 * (their connections' ends say what follows: a retry, 502, a cut). */
void gw_up_instance_gone(struct gw_server *srv, struct sup_instance *inst);

/* Appends the upstream families (connections opened and reused, idle
 * ones, retries, invalid responses, tunnels) and the TCP routes' to b. */
struct ipc_buf;
void gw_up_render_metrics(const struct gw_server *srv, struct ipc_buf *b);

/* ---- gw_tunnel.c ---- */

/* The program answered req's upgrade with 101 (headers h for the
 * client): the 101 goes out, and the client's connection and uc are
 * spliced, bytes both ways (rest: the program's bytes after its head).
 * Ends req. */
void gw_tunnel_start(struct gw_req *req, struct gw_up_conn *uc, const struct ipc_header *h,
                     size_t nh, const char *rest, size_t n);

/* Tunnels open (metrics). */
size_t gw_tunnel_count(const struct gw_server *srv);

#endif
