/* ctl_server — the control socket (SPEC §5): a Unix stream socket, mode
 * 0600, peers checked with SO_PEERCRED (muster's own uid or root), one JSON
 * request per line and one JSON reply per line; `events` and `logs` with
 * follow keep streaming. A client that stops reading is disconnected once
 * 8 MiB are queued for it: it never blocks muster. */
#ifndef MUSTER_CTL_SERVER_H
#define MUSTER_CTL_SERVER_H

struct sup_host;
struct ctl_server;

/* Listens on the host config's control.socket. Returns the server or NULL
 * with the reason logged (another muster already listening there, ...). */
struct ctl_server *ctl_server_start(struct sup_host *host);

/* Frees the server after the loop ended. */
void ctl_server_free(struct ctl_server *srv);

#endif
