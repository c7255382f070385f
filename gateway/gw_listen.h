/* gw_listen — a listening TCP socket in memory of its own, freed by its
 * close callback: whoever owns it may open another at once (a reload that
 * moves an address, an undrain) and be freed before the close completes.
 * The gateway's plain and TLS listeners and the admin one use it. */
#ifndef MUSTER_GW_LISTEN_H
#define MUSTER_GW_LISTEN_H

#include <sys/socket.h>
#include <uv.h>

struct util_listenfds;

/* Listens on addr with l (initialized): on a duplicate of the socket
 * systemd passed for addr when inh has one (socket activation), else on
 * a socket bound now; backlog 511. Returns 0 or a libuv error. */
int gw_listen_start(uv_tcp_t *l, struct util_listenfds *inh, const struct sockaddr_storage *addr,
                    uv_connection_cb cb);

/* gw_listen_start on a handle of its own, cb getting data in the
 * stream's data. Returns the handle, or NULL with *rc the libuv error
 * (nothing is left open then). */
uv_tcp_t *gw_listen_open(uv_loop_t *loop, struct util_listenfds *inh,
                         const struct sockaddr_storage *addr, uv_connection_cb cb, void *data,
                         int *rc);

/* Stops listening; the handle's memory goes once it is closed. NULL is
 * fine. */
void gw_listen_close(uv_tcp_t *l);

/* addr from a config address (host, port, ipv6). Returns 0 or a libuv error. */
int gw_listen_addr(const char *host, int port, int ipv6, struct sockaddr_storage *addr);

#endif
