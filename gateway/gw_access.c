/* gw_access — buffered JSON-lines access log. See gw_access.h. */
#include "gw_access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc_text.h"
#include "sup_log.h"

#define FLUSH_BYTES 32768
#define FLUSH_MS 250

static int open_file(struct gw_access *a) {
  a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (a->fd < 0) {
    int err = errno;
    /* The directory may be missing (a fresh checkout): make one level. */
    char *dir = strdup(a->path), *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
      *slash = '\0';
      mkdir(dir, 0755);
      a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      err = errno;
    }
    free(dir);
    if (a->fd < 0) {
      sup_log(SUP_ERROR, "access log: open \"%s\" failed: %s", a->path, strerror(err));
      return -err;
    }
  }
  return 0;
}

/* Takes path (a copy; NULL: off) with the flush timer it needs, and opens
 * it. a has no file open. Returns 0 or a negative errno. */
static int set_path(struct gw_access *a, uv_loop_t *loop, const char *path) {
  char *copy = path ? strdup(path) : NULL;
  if (path && copy == NULL)
    return -ENOMEM;
  free(a->path);
  a->path = copy;
  if (copy == NULL)
    return 0;
  if (!a->timer_init) {
    uv_timer_init(loop, &a->flush);
    a->flush.data = a;
    a->timer_init = 1;
  }
  return open_file(a);
}

int gw_access_open(struct gw_access *a, uv_loop_t *loop, const char *path) {
  memset(a, 0, sizeof(*a));
  a->fd = -1;
  ipc_buf_init(&a->buf);
  return set_path(a, loop, path);
}

void gw_access_flush(struct gw_access *a) {
  size_t off = 0;
  while (a->fd >= 0 && off < a->buf.len) {
    ssize_t n = write(a->fd, a->buf.data + off, a->buf.len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* disk full or the like: drop rather than grow */
    off += (size_t)n;
  }
  ipc_buf_reset(&a->buf);
}

static void on_flush(uv_timer_t *t) {
  gw_access_flush(t->data);
}

void gw_access_write(struct gw_access *a, const struct gw_access_rec *r) {
  char ts[32], num[64];
  struct ipc_buf *b = &a->buf;
  if (a->path == NULL)
    return;
  sup_log_timestamp(ts, sizeof(ts));
  ipc_buf_adds(b, "{\"time\":\"");
  ipc_buf_adds(b, ts);
  ipc_buf_adds(b, "\",\"remote\":");
  ipc_json_str(b, r->remote, strlen(r->remote));
  ipc_buf_adds(b, ",\"method\":");
  ipc_json_str(b, r->method, strlen(r->method));
  ipc_buf_adds(b, ",\"path\":");
  ipc_json_str(b, r->path, r->path_len);
  snprintf(num, sizeof(num), ",\"status\":%d,\"bytes\":%llu,\"duration_ms\":%.3f", r->status,
           (unsigned long long)r->bytes, r->duration_ms);
  ipc_buf_adds(b, num);
  ipc_buf_adds(b, ",\"service\":");
  if (r->service)
    ipc_json_str(b, r->service, strlen(r->service));
  else
    ipc_buf_adds(b, "null");
  ipc_buf_adds(b, ",\"instance\":");
  if (r->instance >= 0)
    ipc_buf_addi(b, r->instance);
  else
    ipc_buf_adds(b, "null");
  ipc_buf_adds(b, ",\"request_id\":");
  ipc_json_str(b, r->request_id, strlen(r->request_id));
  ipc_buf_adds(b, "}\n");
  if (b->oom) {
    ipc_buf_reset(b);
    return;
  }
  if (b->len >= FLUSH_BYTES)
    gw_access_flush(a);
  else if (!uv_is_active((uv_handle_t *)&a->flush))
    uv_timer_start(&a->flush, on_flush, FLUSH_MS, 0);
}

void gw_access_reopen(struct gw_access *a) {
  if (a->path == NULL)
    return;
  gw_access_flush(a);
  if (a->fd >= 0)
    close(a->fd);
  open_file(a);
}

int gw_access_repath(struct gw_access *a, uv_loop_t *loop, const char *path) {
  if ((a->path == NULL && path == NULL) || (a->path && path && strcmp(a->path, path) == 0))
    return 0;
  gw_access_flush(a);
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
  sup_log(SUP_INFO, "access log: %s%s%s", path ? "now \"" : "off", path ? path : "",
          path ? "\"" : "");
  return set_path(a, loop, path);
}

void gw_access_close(struct gw_access *a) {
  gw_access_flush(a);
  if (a->fd >= 0)
    close(a->fd);
  a->fd = -1;
  if (a->timer_init)
    uv_close((uv_handle_t *)&a->flush, NULL);
  free(a->path);
  a->path = NULL;
  ipc_buf_free(&a->buf);
}
