/* rt_room — the room index, membership, publication and history. See
 * rt_room.h. */
#include "rt_room.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ipc_buf.h"
#include "ipc_msg.h"
#include "ipc_text.h"
#include "rt_frame.h"
#include "util_hash.h"
#include "util_vec.h"

/* ---- The index: open addressing on the name ---- */

void rt_rooms_init(struct rt_rooms *rs, size_t history_size, uint64_t history_ttl_ms,
                   uint64_t epoch_base) {
  memset(rs, 0, sizeof(*rs));
  rs->history_size = history_size;
  rs->history_ttl_ms = history_ttl_ms;
  rs->epoch_base = epoch_base;
}

static void room_free(struct rt_room *r) {
  for (size_t j = 0; j < r->hist_n; j++)
    rt_buf_unref(r->hist[(r->hist_head + j) % r->hist_cap].sse);
  free(r->hist);
  free(r->members);
  free(r->name);
  free(r);
}

void rt_rooms_free(struct rt_rooms *rs) {
  for (size_t i = 0; i < rs->cap; i++)
    if (rs->slots[i])
      room_free(rs->slots[i]);
  free(rs->slots);
  memset(rs, 0, sizeof(*rs));
}

/* The slot where name is, or the empty slot where it would go. */
static size_t slot_of(const struct rt_rooms *rs, const char *name) {
  size_t i = (size_t)util_fnv1a_str(name) & (rs->cap - 1);
  while (rs->slots[i] && strcmp(rs->slots[i]->name, name) != 0)
    i = (i + 1) & (rs->cap - 1);
  return i;
}

struct rt_room *rt_rooms_find(const struct rt_rooms *rs, const char *name) {
  return rs->cap ? rs->slots[slot_of(rs, name)] : NULL;
}

/* Doubles the table (at half full). Returns 0 or UV_ENOMEM. */
static int grow(struct rt_rooms *rs) {
  size_t cap = rs->cap ? rs->cap * 2 : 64;
  struct rt_room **old = rs->slots, **v = calloc(cap, sizeof(*v));
  size_t oldcap = rs->cap;
  if (v == NULL)
    return UV_ENOMEM;
  rs->slots = v;
  rs->cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i])
      rs->slots[slot_of(rs, old[i]->name)] = old[i];
  free(old);
  return 0;
}

/* Removes the room at slot i, shifting its probe run back (no tombstones). */
static void unlink_slot(struct rt_rooms *rs, size_t i) {
  rs->slots[i] = NULL;
  rs->n--;
  for (size_t j = (i + 1) & (rs->cap - 1); rs->slots[j]; j = (j + 1) & (rs->cap - 1)) {
    struct rt_room *r = rs->slots[j];
    rs->slots[j] = NULL;
    rs->slots[slot_of(rs, r->name)] = r;
  }
}

/* The room called name, made when new. NULL on out of memory. */
static struct rt_room *room_get(struct rt_rooms *rs, const char *name) {
  struct rt_room *r = rt_rooms_find(rs, name);
  if (r)
    return r;
  if ((rs->n + 1) * 2 > rs->cap && grow(rs) != 0)
    return NULL;
  if ((r = calloc(1, sizeof(*r))) == NULL || (r->name = strdup(name)) == NULL) {
    free(r);
    return NULL;
  }
  if (rs->history_size && (r->hist = calloc(rs->history_size, sizeof(*r->hist))) == NULL) {
    room_free(r);
    return NULL;
  }
  r->hist_cap = rs->history_size;
  snprintf(r->epoch, sizeof(r->epoch), "%llx", (unsigned long long)(rs->epoch_base + ++rs->made));
  rs->slots[slot_of(rs, name)] = r;
  rs->n++;
  return r;
}

/* Drops r when it has neither members nor history (and is not being
 * published to). */
static void maybe_drop(struct rt_rooms *rs, struct rt_room *r) {
  if (r->live > 0 || r->hist_n > 0 || r->publishing || r->ext)
    return;
  unlink_slot(rs, slot_of(rs, r->name));
  room_free(r);
}

/* ---- Membership ---- */

int rt_member_in(const struct rt_member *m, const struct rt_room *r) {
  for (size_t k = 0; k < m->nrooms; k++)
    if (m->rooms[k].room == r)
      return 1;
  return 0;
}

int rt_room_join(struct rt_rooms *rs, const char *name, struct rt_member *m) {
  struct rt_room *r = room_get(rs, name);
  if (r == NULL)
    return UV_ENOMEM;
  if (rt_member_in(m, r))
    return 0;
  if (util_vec_reserve(&r->members, &r->capmembers, r->nmembers + 1) != 0 ||
      util_vec_reserve(&m->rooms, &m->caprooms, m->nrooms + 1) != 0) {
    maybe_drop(rs, r);
    return UV_ENOMEM;
  }
  r->members[r->nmembers] = (struct rt_rslot){m, m->nrooms};
  m->rooms[m->nrooms] = (struct rt_mslot){r, r->nmembers};
  r->nmembers++;
  m->nrooms++;
  if (r->live++ == 0 && rs->on_used)
    rs->on_used(rs->hook_ctx, r, 1);
  return 0;
}

/* Takes the member's k-th room slot out: both sides, O(1). */
static void leave_slot(struct rt_rooms *rs, struct rt_member *m, size_t k) {
  struct rt_room *r = m->rooms[k].room;
  size_t i = m->rooms[k].i;
  /* the member's side: the last slot moves into k */
  m->rooms[k] = m->rooms[--m->nrooms];
  if (k < m->nrooms)
    m->rooms[k].room->members[m->rooms[k].i].k = k;
  if (--r->live == 0 && rs->on_used)
    rs->on_used(rs->hook_ctx, r, 0);
  if (r->publishing) {
    r->members[i].m = NULL; /* compacted once the publication is out */
  } else {
    r->members[i] = r->members[--r->nmembers];
    if (i < r->nmembers)
      r->members[i].m->rooms[r->members[i].k].i = i;
  }
  maybe_drop(rs, r);
}

void rt_room_leave(struct rt_rooms *rs, const char *name, struct rt_member *m) {
  for (size_t k = 0; k < m->nrooms; k++) {
    if (strcmp(m->rooms[k].room->name, name) == 0) {
      leave_slot(rs, m, k);
      return;
    }
  }
}

void rt_member_leave_all(struct rt_rooms *rs, struct rt_member *m) {
  while (m->nrooms > 0)
    leave_slot(rs, m, m->nrooms - 1);
}

void rt_member_free(struct rt_member *m) {
  free(m->rooms);
  m->rooms = NULL;
  m->nrooms = m->caprooms = 0;
}

/* Closes the gaps members left while a publication was delivered. */
static void compact(struct rt_room *r) {
  size_t k = 0;
  for (size_t i = 0; i < r->nmembers; i++) {
    if (r->members[i].m == NULL)
      continue;
    r->members[k] = r->members[i];
    r->members[k].m->rooms[r->members[k].k].i = k;
    k++;
  }
  r->nmembers = k;
}

/* ---- History ---- */

/* The kept entry number j (0: the oldest). */
static struct rt_hist_entry *hist_at(const struct rt_room *r, size_t j) {
  return &r->hist[(r->hist_head + j) % r->hist_cap];
}

/* Drops the oldest kept entry. */
static void hist_drop_oldest(struct rt_room *r) {
  struct rt_hist_entry *e = hist_at(r, 0);
  rt_buf_unref(e->sse);
  e->sse = NULL;
  r->hist_head = (r->hist_head + 1) % r->hist_cap;
  r->hist_n--;
}

/* The first kept entry younger than the ttl (hist_n when none). */
static size_t hist_first_live(const struct rt_rooms *rs, const struct rt_room *r, uint64_t now_ms) {
  size_t j = 0;
  while (j < r->hist_n && now_ms - hist_at(r, j)->at_ms >= rs->history_ttl_ms)
    j++;
  return j;
}

/* Drops kept entries older than the ttl. */
static void hist_expire(struct rt_rooms *rs, struct rt_room *r, uint64_t now_ms) {
  for (size_t n = hist_first_live(rs, r, now_ms); n > 0; n--)
    hist_drop_oldest(r);
}

/* Keeps pub (its position set) in r's ring, the oldest going when full. */
static void hist_keep(struct rt_room *r, struct rt_pub *pub, uint64_t now_ms) {
  if (r->hist_n == r->hist_cap)
    hist_drop_oldest(r);
  struct rt_hist_entry *e = hist_at(r, r->hist_n++);
  e->offset = pub->offset;
  e->at_ms = now_ms;
  e->sse = pub->binary ? NULL : rt_pub_sse(pub);
  if (e->sse)
    rt_buf_ref(e->sse);
}

int rt_room_can_resume(const struct rt_rooms *rs, const struct rt_room *r, const char *epoch,
                       uint64_t offset, uint64_t now_ms) {
  if (strcmp(epoch, r->epoch) != 0 || offset > r->last_offset)
    return 0;
  if (offset == r->last_offset)
    return 1;                                /* nothing missed */
  size_t j = hist_first_live(rs, r, now_ms); /* the next one it needs must be kept */
  return j < r->hist_n && hist_at(r, j)->offset <= offset + 1;
}

void rt_room_replay(const struct rt_rooms *rs, const struct rt_room *r, uint64_t offset,
                    uint64_t now_ms, void (*fn)(void *ctx, const struct rt_hist_entry *e),
                    void *ctx) {
  for (size_t j = hist_first_live(rs, r, now_ms); j < r->hist_n; j++)
    if (hist_at(r, j)->offset > offset)
      fn(ctx, hist_at(r, j));
}

/* ---- Publishing ---- */

static void pub_release(struct rt_pub *pub) {
  rt_buf_unref(pub->ws);
  rt_buf_unref(pub->sse);
  rt_buf_unref(pub->ipc);
  pub->ws = pub->sse = pub->ipc = NULL;
}

/* Gives pub to every member of r but pub->except. Returns how many. */
static int deliver_all(struct rt_room *r, struct rt_pub *pub) {
  int reached = 0;
  r->publishing = 1;
  for (size_t i = 0; i < r->nmembers; i++) {
    struct rt_member *m = r->members[i].m;
    if (m == NULL || (pub->except && m->id && strcmp(m->id, pub->except) == 0))
      continue;
    m->ops->deliver(m, r, pub);
    reached++;
  }
  r->publishing = 0;
  if (r->live < r->nmembers)
    compact(r);
  return reached;
}

int rt_rooms_publish(struct rt_rooms *rs, struct rt_pub *pub, uint64_t now_ms) {
  struct rt_room *r = rs->history_size ? room_get(rs, pub->room) : rt_rooms_find(rs, pub->room);
  rs->published++;
  if (r == NULL)
    return rs->history_size ? UV_ENOMEM : 0; /* nobody in it, nothing kept */
  if (r->hist_cap) {
    hist_expire(rs, r, now_ms);
    pub->offset = ++r->last_offset;
    pub->epoch = r->epoch;
    hist_keep(r, pub, now_ms);
  }
  int reached = deliver_all(r, pub);
  pub_release(pub);
  maybe_drop(rs, r);
  return reached;
}

void rt_room_release(struct rt_rooms *rs, struct rt_room *r) {
  maybe_drop(rs, r);
}

void rt_room_history_clear(struct rt_room *r) {
  while (r->hist_n > 0)
    hist_drop_oldest(r);
  r->last_offset = 0;
}

int rt_rooms_deliver_at(struct rt_rooms *rs, struct rt_pub *pub, int deliver, uint64_t now_ms) {
  struct rt_room *r = rt_rooms_find(rs, pub->room);
  int reached = 0;
  if (deliver)
    rs->published++;
  if (r == NULL)
    return 0;
  if (r->hist_cap && pub->offset) {
    hist_expire(rs, r, now_ms);
    if (strcmp(r->epoch, pub->epoch) != 0 || pub->offset != r->last_offset + 1) {
      rt_room_history_clear(r); /* what came between is not here */
      snprintf(r->epoch, sizeof(r->epoch), "%s", pub->epoch);
    }
    r->last_offset = pub->offset;
    hist_keep(r, pub, now_ms);
  }
  if (deliver)
    reached = deliver_all(r, pub);
  pub_release(pub);
  maybe_drop(rs, r);
  return reached;
}

void rt_rooms_sweep(struct rt_rooms *rs, uint64_t now_ms) {
  for (size_t i = 0; i < rs->cap;) {
    struct rt_room *r = rs->slots[i];
    if (r == NULL) {
      i++;
      continue;
    }
    if (r->hist_cap)
      hist_expire(rs, r, now_ms);
    if (r->live == 0 && r->hist_n == 0 && r->ext == NULL) {
      unlink_slot(rs, i); /* a later room may have moved into slot i: look again */
      room_free(r);
      continue;
    }
    i++;
  }
}

/* ---- Encodings ---- */

struct rt_buf *rt_pub_ws(struct rt_pub *pub) {
  if (pub->ws == NULL) {
    uint8_t h[10];
    size_t n = rt_frame_header(h, pub->binary ? RT_OP_BINARY : RT_OP_TEXT, pub->text_len);
    if ((pub->ws = rt_buf_new(NULL, n + pub->text_len)) == NULL)
      return NULL;
    memcpy(pub->ws->data, h, n);
    if (pub->text_len)
      memcpy(pub->ws->data + n, pub->text, pub->text_len);
  }
  return pub->ws;
}

/* A buffer made by fill into an ipc_buf, as a shared one. */
static struct rt_buf *from_ipc_buf(struct ipc_buf *b) {
  struct rt_buf *out = b->oom ? NULL : rt_buf_new(b->data, b->len);
  ipc_buf_free(b);
  return out;
}

void rt_sse_event(struct ipc_buf *b, const char *event, const char *text, size_t len) {
  if (event) {
    ipc_buf_adds(b, "event: ");
    ipc_buf_adds(b, event);
    ipc_buf_addc(b, '\n');
  }
  /* One data field a line (a line break is LF, CR or CRLF, as the SSE
   * reader counts them), the line after the last break too: the reader
   * joins them with LF and gets the text back. */
  for (size_t i = 0;;) {
    size_t j = i;
    while (j < len && text[j] != '\n' && text[j] != '\r')
      j++;
    ipc_buf_add(b, "data: ", 6);
    ipc_buf_add(b, text + i, j - i);
    ipc_buf_addc(b, '\n');
    if (j >= len)
      break;
    i = j + (text[j] == '\r' && j + 1 < len && text[j + 1] == '\n' ? 2 : 1);
  }
  ipc_buf_addc(b, '\n');
}

struct rt_buf *rt_pub_sse(struct rt_pub *pub) {
  if (pub->sse == NULL && !pub->binary) {
    struct ipc_buf b;
    ipc_buf_init(&b);
    rt_sse_event(&b, pub->event, pub->text, pub->text_len);
    pub->sse = from_ipc_buf(&b);
  }
  return pub->sse;
}

struct rt_buf *rt_pub_ipc(struct rt_pub *pub) {
  if (pub->ipc == NULL) {
    struct ipc_buf b;
    ipc_buf_init(&b);
    if (pub->binary) {
      ipc_buf_adds(&b, "{\"type\":\"message\",\"topic\":");
      ipc_json_str(&b, pub->room, strlen(pub->room));
      ipc_buf_adds(&b, ",\"data_base64\":\"");
      ipc_b64_encode(&b, pub->text, pub->text_len);
      ipc_buf_adds(&b, "\"}\n");
    } else {
      ipc_enc_message(&b, pub->room, pub->json, pub->json_len);
    }
    pub->ipc = from_ipc_buf(&b);
  }
  return pub->ipc;
}
