/* ctl_client_conn — musterctl's side of a control connection: connecting
 * to the socket, sending whole requests, and reading reply lines with a
 * deadline (for `wait` and `top`, which hold a connection open). Blocking
 * sockets and poll(2); no loop. */
#ifndef MUSTER_CTL_CLIENT_CONN_H
#define MUSTER_CTL_CLIENT_CONN_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Connects a Unix stream socket to path. A path too long for sun_path is
 * reached through its directory (/proc/self/fd/N/NAME). Returns the fd or
 * a negative errno. */
int ctl_client_connect(const char *path);

/* Writes all of p[0..n) to the socket. Returns 0 or a negative errno. */
int ctl_client_send_all(int fd, const char *p, size_t n);

/* One connection with its unread input. */
struct ctl_client_conn {
  int fd;    /* owned: closed by ctl_client_conn_close */
  char *buf; /* bytes read and not yet returned, owned */
  size_t len, cap;
};

/* Takes over the connected fd. */
void ctl_client_conn_init(struct ctl_client_conn *c, int fd);
void ctl_client_conn_close(struct ctl_client_conn *c);

/* Sends one request line (a JSON text, "\n" added). Returns 0 or -errno. */
int ctl_client_conn_send(struct ctl_client_conn *c, const char *json);

/* Reads the next line as a JSON object within timeout_ms (-1: no limit).
 * Returns 1 with *out set (owned by the caller), 0 at the timeout (or an
 * interrupting signal: the caller looks at its flags), or a negative
 * errno: -EPIPE when the server closed, -EPROTO for a line that is not a
 * JSON object, -E2BIG for a line over 64 MiB. */
int ctl_client_conn_recv(struct ctl_client_conn *c, int timeout_ms, cJSON **out);

/* Sends a request and reads its reply (which must carry "ok") within
 * timeout_ms. Returns as ctl_client_conn_recv; 0 means no reply in time. */
int ctl_client_conn_call(struct ctl_client_conn *c, const char *json, int timeout_ms, cJSON **out);

/* The monotonic clock in milliseconds. */
long long ctl_client_now_ms(void);

#endif
