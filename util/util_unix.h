/* util_unix — the place a muster process will listen on (the control
 * socket) or tell a program to listen on (an upstream's MUSTER_SOCKET or
 * PORT): a Unix socket's directory made, a stale socket file removed; a
 * TCP port checked for another program's listener, and its loopback
 * address (127.0.0.1 or ::1) to connect to. */
#ifndef MUSTER_UTIL_UNIX_H
#define MUSTER_UTIL_UNIX_H

#include <sys/socket.h>
#include <sys/types.h>

/* Makes the directory of path (one level, mode dir_mode) and removes a
 * socket file left there by a process that was killed. Returns 0, or
 * UV_EADDRINUSE when something accepts connections on it. */
int util_unix_prepare(const char *path, mode_t dir_mode);

/* UV_EADDRINUSE when a program listens on TCP port of 127.0.0.1 or ::1 (or
 * of every address), else 0: the bind a server makes (with SO_REUSEADDR, as
 * Node, Go and Python servers set it) is tried, so a port held only by
 * connections in TIME_WAIT is free. Other bind errors are not this
 * question's: 0. */
int util_tcp_port_taken(int port);

/* The loopback address of an upstream instance's port: 127.0.0.1:port, or
 * [::1]:port with ipv6, into *sa; returns its length. Its name for
 * messages and Host headers: "127.0.0.1" or "[::1]". */
socklen_t util_loopback_addr(struct sockaddr_storage *sa, int port, int ipv6);
const char *util_loopback_name(int ipv6);

#endif
