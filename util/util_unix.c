/* util_unix — see util_unix.h. */
#include "util_unix.h"

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
