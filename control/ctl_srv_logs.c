/* ctl_srv_logs — `logs` (the tail of one service's log or of every
 * service's merged, then with follow each new line as it is written) and
 * `flush`. See ctl_srv.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctl_srv.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_logfile.h"
#include "sup_service.h"
#include "sup_view.h"

static void on_service_line(void *ctx, const char *label, const char *stream, const char *line,
                            size_t len) {
  struct ctl_client *cl = ctx;
  size_t n = strlen(cl->follow);
  if (strcmp(cl->follow, "*") != 0 && (strncmp(label, cl->follow, n) != 0 || label[n] != '['))
    return; /* another service's ("*": every service's) */
  char ts[32];
  sup_log_timestamp(ts, sizeof(ts));
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, "{\"line\":\"");
  ipc_buf_add(b, ts, strlen(ts));
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, label);
  ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, stream);
  ipc_buf_add(b, ": ", 2);
  /* The line itself, JSON-escaped: reuse the string writer without quotes. */
  size_t start = b->len;
  ipc_json_str(b, line, len);
  if (!b->oom) {
    memmove(b->data + start, b->data + start + 1, b->len - start - 1); /* drop its '"' */
    b->len -= 1;
  }
  ipc_buf_adds(b, "}\n");
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS)
    ctl_srv_close(cl);
}

/* The last nlines lines of svc's log, at most max bytes, into *text
 * (malloc'd). Returns 0, or -1 with the error replied. */
static int tail_one(struct ctl_client *cl, const struct sup_service *svc, size_t nlines, size_t max,
                    char **text, size_t *len) {
  const struct cfg *cfg = sup_view_cfg(cl->srv->host);
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s.log", cfg->logs.dir, sup_view_service_cfg(svc)->name);
  int rc = sup_logfile_tail(path, cfg->logs.keep, nlines, max, text, len);
  if (rc < 0) {
    char msg[4300];
    snprintf(msg, sizeof(msg), "cannot read \"%s\": %s", path, uv_strerror(rc));
    ctl_srv_reply_error(cl, msg);
    return -1;
  }
  return 0;
}

/* logs without a service, as `pm2 logs`: the last nlines lines of every
 * service's log, merged in time order. The 8 MiB of a reply are shared
 * out (at least 4 KiB each), so many services do not read more. Returns
 * 0, or -1 (replied). */
static int tail_all(struct ctl_client *cl, size_t nlines, char **text, size_t *len) {
  const struct sup_host *h = cl->srv->host;
  size_t n = ctl_srv_service_count(h), got = 0, share;
  int rc = 0;
  share = n ? SUP_LOGFILE_TAIL_MAX / n : SUP_LOGFILE_TAIL_MAX;
  share = share < 4096 ? 4096 : share;
  char **texts = calloc(n + 1, sizeof(*texts));
  size_t *lens = calloc(n + 1, sizeof(*lens));
  for (; texts && lens && got < n; got++)
    if ((rc = tail_one(cl, sup_view_service(h, got), nlines, share, &texts[got], &lens[got])) != 0)
      break;
  if (rc == 0 && (texts == NULL || lens == NULL ||
                  sup_logfile_merge((const char *const *)texts, lens, got, nlines,
                                    SUP_LOGFILE_TAIL_MAX, text, len) != 0)) {
    ctl_srv_reply_error(cl, "out of memory");
    rc = -1;
  }
  for (size_t i = 0; texts && i < got; i++)
    free(texts[i]);
  free(texts);
  free(lens);
  return rc;
}

/* logs SERVICE, or every service's (svc NULL); with follow, the lines
 * that come next stream on this connection. */
void ctl_srv_logs(struct ctl_client *cl, const struct ctl_cmd *c, struct sup_service *svc) {
  char *text = NULL;
  size_t len = 0;
  const char *name = svc ? sup_view_service_cfg(svc)->name : "*";
  if ((svc ? tail_one(cl, svc, (size_t)c->lines, SUP_LOGFILE_TAIL_MAX, &text, &len)
           : tail_all(cl, (size_t)c->lines, &text, &len)) != 0)
    return;
  /* Written by hand, as followed lines are: a program's output may hold
   * any byte, and ipc_json_str makes valid JSON of it (U+FFFD for bytes
   * that are not UTF-8, escapes for NUL and the other controls), where
   * cJSON would pass them raw or cut the line at a NUL. */
  struct ipc_buf *b = ipc_channel_begin(&cl->ch);
  ipc_buf_adds(b, "{\"ok\":true,\"lines\":[");
  for (size_t off = 0; off < len;) {
    char *nl = memchr(text + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - text - off) : len - off;
    if (off > 0)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, text + off, n);
    off += n + 1;
  }
  ipc_buf_adds(b, "]}\n");
  free(text);
  if (ipc_channel_commit(&cl->ch) == UV_ENOBUFS) {
    ctl_srv_close(cl);
    return;
  }
  if (c->follow && !cl->closing) {
    snprintf(cl->follow, sizeof(cl->follow), "%s", name);
    sup_host_add_log_listener(cl->srv->host, on_service_line, cl);
  }
}

void ctl_srv_unfollow(struct ctl_client *cl) {
  sup_host_remove_log_listener(cl->srv->host, on_service_line, cl);
}

/* flush [SERVICE], as pm2 flush and supervisorctl clear: empties the log
 * of svc, or of every service (svc NULL). */
void ctl_srv_flush(struct ctl_client *cl, struct sup_service *svc) {
  const struct sup_host *h = cl->srv->host;
  const char *name = svc ? sup_view_service_cfg(svc)->name : "all";
  int64_t freed = 0;
  for (size_t i = 0; svc ? i == 0 : sup_view_service(h, i) != NULL; i++) {
    struct sup_service *s = svc ? svc : sup_view_service(h, i);
    int64_t n = sup_service_flush_log(s);
    if (n < 0) {
      char msg[200];
      snprintf(msg, sizeof(msg), "%s: cannot empty its log: %s", sup_view_service_cfg(s)->name,
               uv_strerror((int)n));
      ctl_srv_reply_error(cl, msg);
      return;
    }
    freed += n;
  }
  sup_log(SUP_INFO, "%s: log emptied, %lld bytes freed (musterctl flush)", name, (long long)freed);
  cJSON *o = ctl_srv_ok_reply();
  cJSON_AddStringToObject(o, "service", name);
  cJSON_AddNumberToObject(o, "bytes", (double)freed);
  ctl_srv_send_json(cl, o);
  cJSON_Delete(o);
}
