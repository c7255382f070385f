/* gw_cluster — the gateway as one of several hosts (SPEC §10): connection
 * ids that name their host, and messages for connections another host
 * owns (ws_send, ws_close, join, leave, meta), sent there through the
 * cluster node's host channel. See gw_rt.h. */
#include <string.h>

#include "cl_node.h"
#include "cl_wire.h"
#include "gw.h"
#include "gw_rt.h"
#include "ipc_msg.h"
#include "sup_host.h"
#include "sup_log.h"

const char *gw_cluster_host_id(struct gw_server *srv) {
  struct cl_node *cl = sup_host_cluster(srv->host);
  return cl ? cl_node_host_id(cl) : NULL;
}

const char *gw_cluster_local_conn(struct gw_server *srv, const char *conn) {
  const char *me = gw_cluster_host_id(srv), *host;
  size_t hl;
  if (conn == NULL || (host = cl_wire_conn_host(conn, &hl)) == NULL)
    return me ? NULL : conn; /* several hosts: ours have a host */
  if (me == NULL || strlen(me) != hl || memcmp(me, host, hl) != 0)
    return NULL;
  return conn + hl + 1;
}

int gw_cluster_forward(struct gw_server *srv, const struct ipc_msg *m) {
  struct cl_node *cl = sup_host_cluster(srv->host);
  const char *me = cl ? cl_node_host_id(cl) : NULL, *host;
  size_t hl;
  if (cl == NULL || m->line == NULL || (host = cl_wire_conn_host(m->conn, &hl)) == NULL ||
      (strlen(me) == hl && memcmp(me, host, hl) == 0))
    return UV_EINVAL; /* ours (and gone), or no host at all */
  int rc = cl_node_to_host(cl, host, hl, m->line, m->line_len);
  if (rc != 0)
    sup_log(SUP_WARN, "gateway: %s for connection %s on host %.*s not sent: %s",
            ipc_type_name(m->type), m->conn, (int)hl, host,
            rc == UV_ENOTCONN ? "Redis is away" : uv_strerror(rc));
  return 0;
}

void gw_cluster_conn_msg(void *ctx, const char *line, size_t len) {
  struct gw_server *srv = ctx;
  struct ipc_msg m;
  char err[128];
  if (ipc_msg_parse(&m, line, len, err, sizeof(err)) != 0) {
    sup_log(SUP_WARN, "gateway: a message from another host is not valid (%s): dropped", err);
    return;
  }
  switch (m.type) {
  case IPC_T_WS_SEND:
  case IPC_T_WS_CLOSE:
  case IPC_T_JOIN:
  case IPC_T_LEAVE:
  case IPC_T_META:
    gw_ws_service_msg(srv, NULL, &m);
    break;
  default:
    sup_log(SUP_WARN, "gateway: another host sent a %s for a connection: dropped",
            ipc_type_name(m.type));
    break;
  }
  ipc_msg_free(&m);
}
