/* ctl_client_conn — connect, send, read lines. See ctl_client_conn.h. */
#include "ctl_client_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES ((size_t)64 << 20) /* as musterctl's other replies */

int ctl_client_connect(const char *path) {
  struct sockaddr_un sa;
  int dirfd = -1, fd = -1, err = 0;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) < sizeof(sa.sun_path)) {
    memcpy(sa.sun_path, path, strlen(path) + 1);
  } else {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    if (dir == NULL)
      return slash ? -ENOMEM : -ENAMETOOLONG;
    dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    err = errno;
    free(dir);
    if (dirfd < 0)
      return -err;
    int len = snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, slash + 1);
    if (len < 0 || (size_t)len >= sizeof(sa.sun_path)) {
      err = ENAMETOOLONG;
      goto out_close_dir;
    }
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
    goto out_close_dir;
  }
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) { /* no handler: no EINTR */
    err = errno;
    close(fd);
    fd = -1;
  }
out_close_dir:
  if (dirfd >= 0)
    close(dirfd);
  return fd >= 0 ? fd : -err;
}

int ctl_client_send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

void ctl_client_conn_init(struct ctl_client_conn *c, int fd) {
  memset(c, 0, sizeof(*c));
  c->fd = fd;
}

void ctl_client_conn_close(struct ctl_client_conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  free(c->buf);
  c->buf = NULL;
  c->len = c->cap = 0;
}

int ctl_client_conn_send(struct ctl_client_conn *c, const char *json) {
  int rc = ctl_client_send_all(c->fd, json, strlen(json));
  return rc == 0 ? ctl_client_send_all(c->fd, "\n", 1) : rc;
}

long long ctl_client_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Takes the first complete line out of c->buf. Returns 1 with *out set,
 * 0 when there is none yet, or -EPROTO. */
static int take_line(struct ctl_client_conn *c, cJSON **out) {
  char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
  if (nl == NULL)
    return 0;
  size_t n = (size_t)(nl - c->buf);
  cJSON *o = cJSON_ParseWithLength(c->buf, n);
  memmove(c->buf, nl + 1, c->len - n - 1);
  c->len -= n + 1;
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return -EPROTO;
  }
  *out = o;
  return 1;
}

/* Reads what is there into c->buf. Returns 0, or a negative errno. */
static int fill(struct ctl_client_conn *c) {
  if (c->cap - c->len < 65536) {
    if (c->cap >= LINE_MAX_BYTES)
      return -E2BIG;
    size_t cap = c->cap ? c->cap * 2 : 65536 * 2;
    char *b = realloc(c->buf, cap);
    if (b == NULL)
      return -ENOMEM;
    c->buf = b;
    c->cap = cap;
  }
  ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
  if (n < 0)
    return errno == EINTR ? 0 : -errno;
  if (n == 0)
    return -EPIPE;
  c->len += (size_t)n;
  return 0;
}

int ctl_client_conn_recv(struct ctl_client_conn *c, int timeout_ms, cJSON **out) {
  long long deadline = ctl_client_now_ms() + timeout_ms;
  *out = NULL;
  for (;;) {
    int rc = take_line(c, out);
    if (rc != 0)
      return rc;
    int left = timeout_ms < 0 ? -1 : (int)(deadline - ctl_client_now_ms());
    if (timeout_ms >= 0 && left <= 0)
      return 0;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    rc = poll(&p, 1, left);
    if (rc < 0 && errno == EINTR)
      return 0; /* a signal: the caller checks why */
    if (rc < 0)
      return -errno;
    if (rc > 0 && (rc = fill(c)) < 0)
      return rc;
  }
}

int ctl_client_conn_call(struct ctl_client_conn *c, const char *json, int timeout_ms, cJSON **out) {
  int rc = ctl_client_conn_send(c, json);
  *out = NULL;
  if (rc < 0)
    return rc;
  rc = ctl_client_conn_recv(c, timeout_ms, out);
  if (rc == 1 && !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(*out, "ok"))) {
    cJSON_Delete(*out);
    *out = NULL;
    return -EPROTO;
  }
  return rc;
}
