/* util_unix — see util_unix.h. */
#include "util_unix.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

int util_unix_prepare(const char *path, mode_t dir_mode) {
  char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash && slash != dir) {
    *slash = '\0';
    mkdir(dir, dir_mode);
  }
  free(dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int busy = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    if (busy)
      return UV_EADDRINUSE;
  }
  unlink(path); /* stale: its process was killed */
  return 0;
}

/* 1 when bind(sa) fails with EADDRINUSE. */
static int bind_in_use(const struct sockaddr *sa, socklen_t len) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
  if (fd < 0)
    return 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  int taken = bind(fd, sa, len) != 0 && errno == EADDRINUSE;
  close(fd);
  return taken;
}

socklen_t util_loopback_addr(struct sockaddr_storage *sa, int port, int ipv6) {
  memset(sa, 0, sizeof(*sa));
  if (ipv6) {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    v6->sin6_addr = in6addr_loopback;
    return sizeof(*v6);
  }
  struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
  v4->sin_family = AF_INET;
  v4->sin_port = htons((uint16_t)port);
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(*v4);
}

const char *util_loopback_name(int ipv6) {
  return ipv6 ? "[::1]" : "127.0.0.1";
}

int util_tcp_port_taken(int port) {
  struct sockaddr_storage sa;
  for (int ipv6 = 0; ipv6 <= 1; ipv6++) { /* (no IPv6: that bind fails otherwise) */
    socklen_t len = util_loopback_addr(&sa, port, ipv6);
    if (bind_in_use((struct sockaddr *)&sa, len))
      return UV_EADDRINUSE;
  }
  return 0;
}
