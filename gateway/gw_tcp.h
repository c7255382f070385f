/* gw_tcp — TCP routes (SPEC §9, config `tcp[]`): listeners whose
 * connections are spliced to the instances of an upstream service. See
 * gw_tcp.c. */
#ifndef MUSTER_GW_TCP_H
#define MUSTER_GW_TCP_H

#include "cfg.h"
#include "ipc_buf.h"

struct gw_server;
struct gw_tcp;
struct sup_instance;

/* Opens a listener per route of cfg (its routes must outlive it: the
 * config in force at start); a route that cannot listen is logged and
 * left out. Returns the set, or NULL on out of memory. */
struct gw_tcp *gw_tcp_start(struct gw_server *srv, const struct cfg *cfg);

/* Stops accepting; with connections, closes every splice too. */
void gw_tcp_stop(struct gw_tcp *tcp, int connections);

/* Closes what is left and frees tcp once its listeners are closed. NULL
 * is fine. */
void gw_tcp_free(struct gw_tcp *tcp);

/* 1 when cfg's tcp routes are the ones tcp runs (a reload does not
 * change them). */
int gw_tcp_matches(const struct gw_tcp *tcp, const struct cfg *cfg);

/* inst's process is gone: its connections close. */
void gw_tcp_instance_gone(struct gw_tcp *tcp, struct sup_instance *inst);

/* Appends the routes' Prometheus families to b (nothing without routes). */
void gw_tcp_render_metrics(const struct gw_tcp *tcp, struct ipc_buf *b);

#endif
