/* gw_listen — listening sockets in memory of their own. See gw_listen.h. */
#include "gw_listen.h"

#include <stdlib.h>

static void on_closed(uv_handle_t *h) {
  free(h);
}

uv_tcp_t *gw_listen_open(uv_loop_t *loop, const struct sockaddr_storage *addr, uv_connection_cb cb,
                         void *data, int *rc) {
  uv_tcp_t *l = malloc(sizeof(*l));
  if (l == NULL) {
    *rc = UV_ENOMEM;
    return NULL;
  }
  uv_tcp_init(loop, l);
  l->data = data;
  *rc = uv_tcp_bind(l, (const struct sockaddr *)addr, 0);
  if (*rc == 0)
    *rc = uv_listen((uv_stream_t *)l, 511, cb);
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
