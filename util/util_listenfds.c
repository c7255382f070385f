/* util_listenfds — sockets from systemd's socket activation. See
 * util_listenfds.h. */
#include "util_listenfds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* s as a decimal in 1..max, or -1. */
static long decimal(const char *s, long max) {
  long v = 0;
  if (s == NULL || *s == '\0' || strlen(s) > 10)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    v = v * 10 + (*s - '0');
  }
  return v >= 1 && v <= max ? v : -1;
}

int util_listenfds_count(const char *pid, const char *fds, pid_t self, char *why, size_t cap) {
  if (fds == NULL)
    return 0;
  long p = decimal(pid, 0x7fffffff);
  if (p < 0) {
    snprintf(why, cap, "LISTEN_PID \"%.20s\" is not a pid", pid ? pid : "");
    return -1;
  }
  if ((pid_t)p != self)
    return 0; /* for another process */
  if (strcmp(fds, "0") == 0)
    return 0;
  long n = decimal(fds, 1000000);
  if (n < 0) {
    snprintf(why, cap, "LISTEN_FDS \"%.20s\" is not a count", fds);
    return -1;
  }
  if (n > UTIL_LISTENFDS_MAX) {
    snprintf(why, cap, "LISTEN_FDS %ld is more than the %d sockets muster takes", n,
             UTIL_LISTENFDS_MAX);
    return -1;
  }
  return (int)n;
}

int util_listenfds_add(struct util_listenfds *l, int fd, char *why, size_t cap) {
  int type = 0, listening = 0;
  socklen_t len = sizeof(type), alen = sizeof(l->addr[0]);
  struct sockaddr_storage ss;
  if (l->n == UTIL_LISTENFDS_MAX) {
    snprintf(why, cap, "fd %d: more than %d sockets", fd, UTIL_LISTENFDS_MAX);
    return -1;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      getsockname(fd, (struct sockaddr *)&ss, &alen) != 0) {
    snprintf(why, cap, "fd %d: not a socket (%s)", fd, strerror(errno));
    return -1;
  }
  len = sizeof(listening);
  if (type != SOCK_STREAM || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
    snprintf(why, cap, "fd %d: not a TCP socket (ListenStream= with an address and a port)", fd);
    return -1;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
    snprintf(why, cap, "fd %d: a TCP socket that is not listening (Accept=yes is not for muster)",
             fd);
    return -1;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  l->fd[l->n] = fd;
  l->addr[l->n] = ss;
  l->taken[l->n] = 0;
  l->n++;
  return 0;
}

/* 1 when a and b are the same address and port. */
static int same(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (a->ss_family != b->sa_family)
    return 0;
  if (b->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

int util_listenfds_take(struct util_listenfds *l, const struct sockaddr *addr) {
  for (size_t i = 0; i < l->n; i++) {
    if (same(&l->addr[i], addr)) {
      int fd = fcntl(l->fd[i], F_DUPFD_CLOEXEC, 0);
      if (fd >= 0)
        l->taken[i]++;
      return fd;
    }
  }
  errno = ENOENT;
  return -1;
}

void util_listenfds_name(const struct util_listenfds *l, size_t i, char *out, size_t cap) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (l->addr[i].ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)&l->addr[i];
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    snprintf(out, cap, "%s:%d", host, ntohs(a->sin_port));
  } else {
    const struct sockaddr_in6 *a = (const void *)&l->addr[i];
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    snprintf(out, cap, "[%s]:%d", host, ntohs(a->sin6_port));
  }
}

void util_listenfds_free(struct util_listenfds *l) {
  for (size_t i = 0; i < l->n; i++)
    close(l->fd[i]);
  l->n = 0;
}
