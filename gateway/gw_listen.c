/* gw_listen — listening sockets in memory of their own. See gw_listen.h. */
#include "gw_listen.h"

#include <stdlib.h>
#include <unistd.h>

#include "util_listenfds.h"

static void on_closed(uv_handle_t *h) {
  free(h);
}

int gw_listen_start(uv_tcp_t *l, struct util_listenfds *inh, const struct sockaddr_storage *addr,
                    uv_connection_cb cb) {
  int rc, fd = inh ? util_listenfds_take(inh, (const struct sockaddr *)addr) : -1;
  if (fd >= 0) {
    if ((rc = uv_tcp_open(l, fd)) < 0)
      close(fd);
  } else {
    rc = uv_tcp_bind(l, (const struct sockaddr *)addr, 0);
  }
  return rc == 0 ? uv_listen((uv_stream_t *)l, 511, cb) : rc;
}

uv_tcp_t *gw_listen_open(uv_loop_t *loop, struct util_listenfds *inh,
                         const struct sockaddr_storage *addr, uv_connection_cb cb, void *data,
                         int *rc) {
  uv_tcp_t *l = malloc(sizeof(*l));
  if (l == NULL) {
    *rc = UV_ENOMEM;
    return NULL;
  }
  uv_tcp_init(loop, l);
  l->data = data;
  *rc = gw_listen_start(l, inh, addr, cb);
  if (*rc == 0)
    return l;
  gw_listen_close(l);
  return NULL;
}

void gw_listen_close(uv_tcp_t *l) {
  if (l != NULL)
    uv_close((uv_handle_t *)l, on_closed);
}

int gw_listen_addr(const char *host, int port, int ipv6, struct sockaddr_storage *addr) {
  return ipv6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr)
              : uv_ip4_addr(host, port, (struct sockaddr_in *)addr);
}
