/* gw_server — the public face of the HTTP gateway: created on the
 * supervisor host, it listens on gateway.listen and plugs into the host's
 * hooks (responses from instances, instances dying, shutdown). */
#ifndef MUSTER_GW_SERVER_H
#define MUSTER_GW_SERVER_H

struct sup_host;
struct gw_server;

/* Binds gateway.listen (and gateway.tls.listen, its certificates loaded)
 * and starts accepting. Returns the server, or NULL with a message logged
 * ("gateway: listen on 127.0.0.1:8080 failed: EADDRINUSE"). A server whose
 * TLS listener failed is returned (its hooks are set: a shutdown closes
 * it) with gw_server_failed() true. */
struct gw_server *gw_server_start(struct sup_host *host);

/* 1 when srv is NULL or did not start whole (see gw_server_start). */
int gw_server_failed(const struct gw_server *srv);

/* Starts the admin listener (admin.listen): /healthz, /metrics, /events.
 * gateway is the public server whose metrics it shows. Without an admin
 * section it does not listen until a reload adds one. NULL on failure. */
struct gw_server *gw_admin_start(struct sup_host *host, struct gw_server *gateway);

/* Frees the server after the loop has ended. */
void gw_server_free(struct gw_server *srv);

#endif
