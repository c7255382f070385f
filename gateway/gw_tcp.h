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

/* Opens a listener per route of cfg; a route that cannot listen is
 * logged and left out (a reload tries it again). Returns the set, or NULL
 * on out of memory. */
struct gw_tcp *gw_tcp_start(struct gw_server *srv, const struct cfg *cfg);

/* Stops accepting; with connections, closes every splice too. */
void gw_tcp_stop(struct gw_tcp *tcp, int connections);

/* Closes what is left and frees tcp once its listeners are closed. NULL
 * is fine. */
void gw_tcp_free(struct gw_tcp *tcp);

/* A reload: cfg's tcp routes from now on (it must outlive them, as the
 * config in force does). A route on the same listen address keeps its
 * listener and connections with the new settings; a new address listens;
 * a route gone stops accepting, its connections going on. Returns 0, or
 * -1 on out of memory (nothing changed). */
int gw_tcp_reload(struct gw_tcp *tcp, const struct cfg *cfg);

/* inst's process is gone: its connections close. */
void gw_tcp_instance_gone(struct gw_tcp *tcp, struct sup_instance *inst);

/* Appends ,"tcp":[{"listen","connections","total"}...] to b: the routes
 * to service (its status entry; [] for none). */
void gw_tcp_status(const struct gw_tcp *tcp, const char *service, struct ipc_buf *b);

/* Appends the routes' Prometheus families to b (nothing without routes). */
void gw_tcp_render_metrics(const struct gw_tcp *tcp, struct ipc_buf *b);

#endif
