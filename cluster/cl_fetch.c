/* cl_fetch — what a reader of a room missed, from the room's stream in
 * Redis: an SSE client that comes back, to this host or another, resumes
 * where it was (SPEC §10). See cl_node.h. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_int.h"

struct cl_fetch {
  struct cl_node *cl;
  cl_fetch_cb cb;
  void *ctx;
  int cancelled;
  int new_reader;               /* wants the present position only */
  int earliest;                 /* wants all that the room keeps */
  char epoch[CL_EPOCH_MAX + 1]; /* the reader's, "" before the first publication */
  uint64_t offset;
};

void cl_fetch_cancel(struct cl_fetch *f) {
  if (f)
    f->cancelled = 1; /* freed when its reply comes */
}

/* Seen in this reply already (a publication Redis carried twice)? */
static int seen(const struct cl_hist_item *v, size_t n, const struct cl_record *rec) {
  for (size_t i = n; i-- > 0;)
    if (v[i].rec.oseq == rec->oseq && v[i].rec.origin_len == rec->origin_len &&
        memcmp(v[i].rec.origin, rec->origin, rec->origin_len) == 0)
      return 1;
  return 0;
}

/* The entries after the reader's position, each kept and within the ttl.
 * Returns how many in *items (malloc'd), or -1 when some are gone. */
static long collect(const struct cl_fetch *f, const redisReply *entries, uint64_t last,
                    struct cl_hist_item **items) {
  uint64_t want = f->epoch[0] ? f->offset + 1 : 1, now = cl_now_ms();
  int any = f->earliest; /* earliest: from the first entry kept and young enough */
  uint64_t ttl = f->cl->history_ttl_ms;
  size_t n = 0;
  *items = NULL;
  if (want > last + 1)
    return -1; /* a position from the future */
  if (want == last + 1)
    return 0;
  struct cl_hist_item *v = calloc(entries->elements ? entries->elements : 1, sizeof(*v));
  if (v == NULL)
    return -1;
  for (size_t i = 0; i < entries->elements; i++) {
    uint64_t off, at;
    const char *rec;
    size_t len;
    char err[64];
    struct cl_record r;
    if (cl_entry_of(entries->element[i], &off, &at, &rec, &len) != 0)
      continue;
    int old = ttl && at && now > at && now - at >= ttl;
    if (off < want || (any && old))
      continue;
    if (any) /* the first one kept */
      want = off;
    any = 0;
    if (off != want || old || cl_wire_parse_record(rec, len, &r, err, sizeof(err)) != 0) {
      free(v);
      return -1; /* trimmed, expired, or not ours */
    }
    want++;
    if (!seen(v, n, &r))
      v[n++] = (struct cl_hist_item){off, r};
  }
  if (want != last + 1) {
    free(v);
    return -1;
  }
  *items = v;
  return (long)n;
}

static void on_fetch(struct cl_redis *r, const redisReply *reply, void *privdata) {
  struct cl_fetch *f = privdata;
  const char *epoch;
  uint64_t last;
  const redisReply *entries;
  struct cl_hist_item *items = NULL;
  (void)r;
  if (f->cancelled) {
    free(f);
    return;
  }
  if (cl_read_reply(reply, &epoch, &last, &entries) != 0) {
    f->cb(f->ctx, UV_ENOTCONN, "", 0, NULL, 0);
  } else if (f->new_reader || (f->earliest && epoch[0] == '\0')) {
    f->cb(f->ctx, 0, epoch, last, NULL, 0);
  } else if (epoch[0] == '\0' || (f->epoch[0] && strcmp(epoch, f->epoch) != 0)) {
    /* Redis has no such room any more, or started it over */
    int fine = epoch[0] == '\0' && f->epoch[0] == '\0';
    f->cb(f->ctx, fine ? 0 : UV_ENOENT, epoch, last, NULL, 0);
  } else {
    long n = collect(f, entries, last, &items);
    f->cb(f->ctx, n < 0 ? UV_ENOENT : 0, epoch, last, items, n < 0 ? 0 : (size_t)n);
    free(items);
  }
  free(f);
}

struct cl_fetch *cl_node_fetch(struct cl_node *cl, const char *room, const char *epoch,
                               uint64_t offset, cl_fetch_cb cb, void *ctx) {
  struct cl_fetch *f = calloc(1, sizeof(*f));
  if (f == NULL || !cl_redis_up(&cl->cmd)) {
    free(f);
    return NULL;
  }
  *f = (struct cl_fetch){.cl = cl,
                         .cb = cb,
                         .ctx = ctx,
                         .new_reader = epoch == NULL,
                         .earliest = epoch && strcmp(epoch, "*") == 0,
                         .offset = offset};
  snprintf(f->epoch, sizeof(f->epoch), "%s", epoch && !f->earliest ? epoch : "");
  if (cl_script_read_room(cl, room, f->epoch, f->epoch[0] ? offset + 1 : 1, epoch ? cl->maxlen : 0,
                          on_fetch, f) != 0) {
    free(f);
    return NULL;
  }
  return f;
}
