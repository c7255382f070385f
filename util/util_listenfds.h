/* util_listenfds — the listening sockets muster was started with by
 * systemd's socket activation (sd_listen_fds(3)): $LISTEN_PID names
 * muster's pid, $LISTEN_FDS = N, the sockets are fds 3 .. 3+N-1. Written
 * by hand (muster does not link libsystemd).
 *
 * Each one is known by the address it is bound to; a listener of the
 * config (gateway.listen, its TLS addresses, admin.listen, tcp[].listen)
 * whose address matches one takes a duplicate of it instead of binding.
 * The originals stay open for as long as muster runs, so a listener
 * closed by a drain or a reload can take the same socket again, and
 * connections made while no listener takes them wait in the kernel's
 * queue (for the next muster, across a restart) instead of being
 * refused. */
#ifndef MUSTER_UTIL_LISTENFDS_H
#define MUSTER_UTIL_LISTENFDS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define UTIL_LISTENFDS_FIRST 3 /* SD_LISTEN_FDS_START */
#define UTIL_LISTENFDS_MAX 64  /* sockets kept; more are refused */

struct util_listenfds {
  size_t n;
  int fd[UTIL_LISTENFDS_MAX];
  struct sockaddr_storage addr[UTIL_LISTENFDS_MAX];
  unsigned taken[UTIL_LISTENFDS_MAX]; /* times a listener took it */
};

/* How many sockets $LISTEN_PID (pid) and $LISTEN_FDS (fds) hand to the
 * process self: 0 when fds is NULL or pid names another process (the
 * variables were meant for a parent). Returns -1 with why filled when a
 * value is malformed or the count is past UTIL_LISTENFDS_MAX. Pure. */
int util_listenfds_count(const char *pid, const char *fds, pid_t self, char *why, size_t cap);

/* Keeps fd, a listening TCP socket (IPv4 or IPv6), in l, and marks it
 * close-on-exec. Returns 0, or -1 with why filled: not a socket, not TCP,
 * not listening, or l is full (fd is then the caller's). */
int util_listenfds_add(struct util_listenfds *l, int fd, char *why, size_t cap);

/* A new descriptor (close-on-exec, the caller's) for the kept socket
 * bound to addr, or -1 when none is (or dup fails: errno says). */
int util_listenfds_take(struct util_listenfds *l, const struct sockaddr *addr);

/* "127.0.0.1:8080" or "[::1]:8080" for kept socket i, into out. */
void util_listenfds_name(const struct util_listenfds *l, size_t i, char *out, size_t cap);

/* Closes every kept socket. */
void util_listenfds_free(struct util_listenfds *l);

#endif
