/* Unit tests for rt_room: membership kept O(1) on both sides under many
 * members (the two indexes checked against each other after every
 * change), leaving while a publication is delivered, except, leave_all,
 * the sweep, history (ring, ttl, EPOCH-OFFSET resume, replay) and the
 * encodings made once per publication and shared by every member. */
#include <stdlib.h>
#include <uv.h>

#include "ipc_buf.h"
#include "rt_room.h"
#include "test.h"

/* ---- A member for tests ---- */

struct tmem;
typedef void (*tmem_hook)(struct tmem *t, struct rt_room *r, struct rt_pub *pub);

struct tmem {
  struct rt_member m; /* first: a struct rt_member * is a struct tmem * */
  struct rt_rooms *rs;
  int got;                       /* publications delivered */
  uint64_t last_offset;          /* of the last one */
  struct rt_buf *ws, *sse, *ipc; /* the encodings it was given, referenced */
  tmem_hook hook;                /* run in deliver, or NULL */
  const char *arg;               /* the hook's room */
  struct tmem *other;            /* the hook's other member */
};

static void tmem_deliver(struct rt_member *m, struct rt_room *r, struct rt_pub *pub) {
  struct tmem *t = (struct tmem *)m;
  t->got++;
  t->last_offset = pub->offset;
  if (t->ws == NULL) {
    t->ws = rt_buf_ref(rt_pub_ws(pub));
    t->ipc = rt_buf_ref(rt_pub_ipc(pub));
    if (rt_pub_sse(pub))
      t->sse = rt_buf_ref(rt_pub_sse(pub));
  }
  if (t->hook)
    t->hook(t, r, pub);
}

static const struct rt_member_ops tmem_ops = {tmem_deliver};

static void tmem_init(struct tmem *t, struct rt_rooms *rs, const char *id) {
  memset(t, 0, sizeof(*t));
  t->m.ops = &tmem_ops;
  t->m.kind = RT_MEMBER_WS;
  t->m.id = id;
  t->rs = rs;
}

static void tmem_drop_bufs(struct tmem *t) {
  rt_buf_unref(t->ws);
  rt_buf_unref(t->sse);
  rt_buf_unref(t->ipc);
  t->ws = t->sse = t->ipc = NULL;
}

static void tmem_free(struct tmem *t) {
  rt_member_leave_all(t->rs, &t->m);
  rt_member_free(&t->m);
  tmem_drop_bufs(t);
}

/* A text publication in room. */
static struct rt_pub text_pub(const char *room, const char *text) {
  return (struct rt_pub){
      .room = room, .text = text, .text_len = strlen(text), .json = "\"x\"", .json_len = 3};
}

static int publish(struct rt_rooms *rs, const char *room, const char *text, uint64_t now) {
  struct rt_pub pub = text_pub(room, text);
  return rt_rooms_publish(rs, &pub, now);
}

/* 1 when every room's members and every member's rooms point at each
 * other (members: the tms[0..n) that may be in rooms). */
static int consistent(const struct rt_rooms *rs, struct tmem *const *tms, size_t n) {
  size_t slots = 0;
  for (size_t i = 0; i < rs->cap; i++) {
    const struct rt_room *r = rs->slots[i];
    if (r == NULL)
      continue;
    if (rt_rooms_find(rs, r->name) != r || r->live != r->nmembers)
      return 0;
    for (size_t j = 0; j < r->nmembers; j++) {
      const struct rt_rslot *s = &r->members[j];
      if (s->m == NULL || s->k >= s->m->nrooms || s->m->rooms[s->k].room != r ||
          s->m->rooms[s->k].i != j)
        return 0;
    }
    slots += r->nmembers;
  }
  size_t in = 0;
  for (size_t t = 0; t < n; t++) {
    const struct rt_member *m = &tms[t]->m;
    for (size_t k = 0; k < m->nrooms; k++) {
      const struct rt_mslot *s = &m->rooms[k];
      if (s->i >= s->room->nmembers || s->room->members[s->i].m != m ||
          s->room->members[s->i].k != k)
        return 0;
    }
    in += m->nrooms;
  }
  return in == slots;
}

static size_t count_rooms(const struct rt_rooms *rs) {
  size_t n = 0;
  for (size_t i = 0; i < rs->cap; i++)
    n += rs->slots[i] != NULL;
  CHECK_INT(n, rs->n);
  return n;
}

/* ---- Membership ---- */

TEST(join_and_leave_both_sides) {
  struct rt_rooms rs;
  struct tmem a, b;
  rt_rooms_init(&rs, 0, 0, 1);
  tmem_init(&a, &rs, "a");
  tmem_init(&b, &rs, "b");
  CHECK_INT(rt_room_join(&rs, "r", &a.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &b.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &a.m), 0); /* already in: nothing */
  CHECK_INT(rt_room_join(&rs, "s", &a.m), 0);
  struct rt_room *r = rt_rooms_find(&rs, "r");
  CHECK(r != NULL && r->nmembers == 2 && r->live == 2);
  CHECK_INT(a.m.nrooms, 2);
  CHECK(rt_member_in(&a.m, r) && rt_member_in(&b.m, r));
  struct tmem *both[2] = {&a, &b};
  CHECK(consistent(&rs, both, 2));
  rt_room_leave(&rs, "r", &a.m);
  CHECK(!rt_member_in(&a.m, r) && rt_member_in(&b.m, r));
  CHECK_INT(r->nmembers, 1);
  CHECK(r->members[0].m == &b.m && b.m.rooms[r->members[0].k].room == r);
  rt_room_leave(&rs, "r", &a.m);    /* not in it: nothing */
  rt_room_leave(&rs, "nope", &a.m); /* no such room: nothing */
  CHECK_INT(a.m.nrooms, 1);
  rt_room_leave(&rs, "r", &b.m);
  CHECK(rt_rooms_find(&rs, "r") == NULL); /* empty without history: dropped */
  CHECK(rt_rooms_find(&rs, "s") != NULL);
  tmem_free(&a);
  tmem_free(&b);
  CHECK_INT(count_rooms(&rs), 0);
  rt_rooms_free(&rs);
}

TEST(many_members_bookkeeping) {
  enum { N = 600, ROOMS = 7 };
  static struct tmem tms[N], *all[N];
  static char ids[N][8];
  char name[16];
  struct rt_rooms rs;
  rt_rooms_init(&rs, 0, 0, 1);
  for (size_t i = 0; i < N; i++) {
    snprintf(ids[i], sizeof(ids[i]), "m%zu", i);
    tmem_init(&tms[i], &rs, ids[i]);
    all[i] = &tms[i];
    for (size_t k = 0; k < ROOMS; k++) {
      if ((i + k) % 3 == 0)
        continue;
      snprintf(name, sizeof(name), "room-%zu", k);
      CHECK_INT(rt_room_join(&rs, name, &tms[i].m), 0);
    }
  }
  CHECK(consistent(&rs, all, N));
  /* Leave in a scrambled order, checking both indexes as we go. */
  uint32_t x = 12345;
  for (int step = 0; step < 3000; step++) {
    x = x * 1103515245u + 12345u;
    size_t i = (x >> 8) % N, k = (x >> 20) % ROOMS;
    snprintf(name, sizeof(name), "room-%zu", k);
    if ((x >> 4) & 1)
      rt_room_leave(&rs, name, &tms[i].m);
    else
      CHECK_INT(rt_room_join(&rs, name, &tms[i].m), 0);
    if (step % 100 == 0 && !consistent(&rs, all, N)) {
      CHECK(0);
      break;
    }
  }
  CHECK(consistent(&rs, all, N));
  /* Every member still in room-0 gets one publication. */
  struct rt_room *r0 = rt_rooms_find(&rs, "room-0");
  size_t members = r0 ? r0->nmembers : 0;
  CHECK_INT(publish(&rs, "room-0", "hi", 0), (int)members);
  int got = 0;
  for (size_t i = 0; i < N; i++)
    got += tms[i].got;
  CHECK_INT(got, (int)members);
  for (size_t i = 0; i < N; i += 2)
    rt_member_leave_all(&rs, &tms[i].m);
  CHECK(consistent(&rs, all, N));
  for (size_t i = 0; i < N; i++)
    tmem_free(&tms[i]);
  CHECK_INT(count_rooms(&rs), 0);
  rt_rooms_free(&rs);
}

TEST(leave_all) {
  struct rt_rooms rs;
  struct tmem a, b;
  char name[8];
  rt_rooms_init(&rs, 0, 0, 1);
  tmem_init(&a, &rs, "a");
  tmem_init(&b, &rs, "b");
  for (int i = 0; i < 5; i++) {
    snprintf(name, sizeof(name), "r%d", i);
    CHECK_INT(rt_room_join(&rs, name, &a.m), 0);
  }
  CHECK_INT(rt_room_join(&rs, "r2", &b.m), 0);
  CHECK_INT(count_rooms(&rs), 5);
  rt_member_leave_all(&rs, &a.m);
  CHECK_INT(a.m.nrooms, 0);
  CHECK_INT(count_rooms(&rs), 1); /* only r2, where b is */
  struct rt_room *r2 = rt_rooms_find(&rs, "r2");
  CHECK(r2 != NULL && r2->nmembers == 1 && r2->members[0].m == &b.m);
  struct tmem *both[2] = {&a, &b};
  CHECK(consistent(&rs, both, 2));
  tmem_free(&a);
  tmem_free(&b);
  rt_rooms_free(&rs);
}

/* ---- Publishing ---- */

static void leave_own_room(struct tmem *t, struct rt_room *r, struct rt_pub *pub) {
  rt_room_leave(t->rs, r->name, &t->m);
}

static void leave_everything(struct tmem *t, struct rt_room *r, struct rt_pub *pub) {
  rt_member_leave_all(t->rs, &t->m);
}

static void make_other_leave(struct tmem *t, struct rt_room *r, struct rt_pub *pub) {
  rt_room_leave(t->rs, r->name, &t->other->m);
}

TEST(leave_during_publication) {
  enum { N = 6 };
  struct rt_rooms rs;
  struct tmem tms[N], *all[N];
  rt_rooms_init(&rs, 0, 0, 1);
  for (int i = 0; i < N; i++) {
    tmem_init(&tms[i], &rs, NULL);
    all[i] = &tms[i];
    CHECK_INT(rt_room_join(&rs, "r", &tms[i].m), 0);
    CHECK_INT(rt_room_join(&rs, "other", &tms[i].m), 0);
  }
  tms[0].hook = leave_own_room;   /* the first one leaves in its deliver */
  tms[2].hook = leave_everything; /* one leaves every room */
  tms[5].hook = leave_own_room;   /* and the last */
  CHECK_INT(publish(&rs, "r", "one", 0), N);
  for (int i = 0; i < N; i++)
    CHECK_INT(tms[i].got, 1); /* everyone got it, leavers too, once */
  struct rt_room *r = rt_rooms_find(&rs, "r");
  CHECK(r != NULL && r->nmembers == 3 && r->live == 3 && !r->publishing);
  CHECK(consistent(&rs, all, N));
  CHECK(!rt_member_in(&tms[2].m, rt_rooms_find(&rs, "other")));
  /* Next time only those left get it. */
  CHECK_INT(publish(&rs, "r", "two", 0), 3);
  CHECK(tms[1].got == 2 && tms[3].got == 2 && tms[4].got == 2 && tms[0].got == 1);
  /* Everyone leaving in their deliver: the room goes once it is out. */
  for (int i = 0; i < N; i++)
    tms[i].hook = leave_own_room;
  CHECK_INT(publish(&rs, "r", "three", 0), 3);
  CHECK(rt_rooms_find(&rs, "r") == NULL);
  CHECK(consistent(&rs, all, N));
  for (int i = 0; i < N; i++)
    tmem_free(&tms[i]);
  rt_rooms_free(&rs);
}

TEST(member_made_to_leave_before_its_turn) {
  struct rt_rooms rs;
  struct tmem a, b, c;
  rt_rooms_init(&rs, 0, 0, 1);
  tmem_init(&a, &rs, "a");
  tmem_init(&b, &rs, "b");
  tmem_init(&c, &rs, "c");
  CHECK_INT(rt_room_join(&rs, "r", &a.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &b.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &c.m), 0);
  a.hook = make_other_leave;
  a.other = &b;
  CHECK_INT(publish(&rs, "r", "x", 0), 2); /* b left before its turn */
  CHECK(a.got == 1 && b.got == 0 && c.got == 1);
  struct tmem *all[3] = {&a, &b, &c};
  CHECK(consistent(&rs, all, 3));
  tmem_free(&a);
  tmem_free(&b);
  tmem_free(&c);
  rt_rooms_free(&rs);
}

TEST(except_leaves_one_out) {
  struct rt_rooms rs;
  struct tmem a, b, n;
  rt_rooms_init(&rs, 0, 0, 1);
  tmem_init(&a, &rs, "conn-a");
  tmem_init(&b, &rs, "conn-b");
  tmem_init(&n, &rs, NULL); /* no id: never left out */
  CHECK_INT(rt_room_join(&rs, "r", &a.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &b.m), 0);
  CHECK_INT(rt_room_join(&rs, "r", &n.m), 0);
  struct rt_pub pub = text_pub("r", "hi");
  pub.except = "conn-a";
  CHECK_INT(rt_rooms_publish(&rs, &pub, 0), 2);
  CHECK(a.got == 0 && b.got == 1 && n.got == 1);
  pub = text_pub("r", "hi");
  pub.except = "conn-x";
  CHECK_INT(rt_rooms_publish(&rs, &pub, 0), 3);
  tmem_free(&a);
  tmem_free(&b);
  tmem_free(&n);
  rt_rooms_free(&rs);
}

TEST(publish_to_nobody) {
  struct rt_rooms rs;
  rt_rooms_init(&rs, 0, 0, 1);
  CHECK_INT(publish(&rs, "empty", "x", 0), 0);
  CHECK(rt_rooms_find(&rs, "empty") == NULL); /* not made without history */
  CHECK_INT(rs.published, 1);
  rt_rooms_free(&rs);
  rt_rooms_init(&rs, 4, 1000, 1);
  CHECK_INT(publish(&rs, "empty", "x", 0), 0);
  struct rt_room *r = rt_rooms_find(&rs, "empty");
  CHECK(r != NULL && r->hist_n == 1 && r->last_offset == 1); /* kept for later readers */
  rt_rooms_free(&rs);
}

TEST(encodings_made_once_and_shared) {
  enum { N = 5 };
  struct rt_rooms rs;
  struct tmem tms[N];
  rt_rooms_init(&rs, 0, 0, 1);
  for (int i = 0; i < N; i++) {
    tmem_init(&tms[i], &rs, NULL);
    CHECK_INT(rt_room_join(&rs, "news", &tms[i].m), 0);
  }
  struct rt_pub pub = text_pub("news", "a\nb");
  pub.event = "update";
  pub.json = "\"a\\nb\"";
  pub.json_len = strlen(pub.json);
  CHECK_INT(rt_rooms_publish(&rs, &pub, 0), N);
  CHECK(pub.ws == NULL && pub.sse == NULL && pub.ipc == NULL); /* released */
  for (int i = 0; i < N; i++) {
    CHECK(tms[i].ws != NULL && tms[i].ws == tms[0].ws);
    CHECK(tms[i].sse != NULL && tms[i].sse == tms[0].sse);
    CHECK(tms[i].ipc != NULL && tms[i].ipc == tms[0].ipc);
  }
  CHECK_INT(tms[0].ws->refs, N); /* ours only: the publication let go */
  CHECK_INT(tms[0].ws->len, 2 + 3);
  CHECK(memcmp(tms[0].ws->data,
               "\x81\x03"
               "a\nb",
               5) == 0);
  CHECK_STR(tms[0].sse->data, "event: update\ndata: a\ndata: b\n\n");
  CHECK_STR(tms[0].ipc->data, "{\"type\":\"message\",\"topic\":\"news\",\"data\":\"a\\nb\"}\n");
  for (int i = 0; i < N; i++)
    tmem_free(&tms[i]);
  rt_rooms_free(&rs);
}

TEST(lazy_encodings_same_pointer) {
  struct rt_pub pub = text_pub("r", "hello");
  CHECK(pub.ws == NULL && pub.sse == NULL && pub.ipc == NULL); /* nothing made yet */
  struct rt_buf *ws = rt_pub_ws(&pub), *sse = rt_pub_sse(&pub), *ipc = rt_pub_ipc(&pub);
  CHECK(ws != NULL && rt_pub_ws(&pub) == ws && ws->refs == 1);
  CHECK(sse != NULL && rt_pub_sse(&pub) == sse && sse->refs == 1);
  CHECK(ipc != NULL && rt_pub_ipc(&pub) == ipc && ipc->refs == 1);
  rt_buf_unref(ws);
  rt_buf_unref(sse);
  rt_buf_unref(ipc);
}

TEST(binary_encodings) {
  struct rt_pub pub = {.room = "b", .text = "\x00\xff\x01", .text_len = 3, .binary = 1};
  struct rt_buf *ws = rt_pub_ws(&pub);
  CHECK(ws != NULL && ws->len == 5 && memcmp(ws->data, "\x82\x03\x00\xff\x01", 5) == 0);
  CHECK(rt_pub_sse(&pub) == NULL); /* SSE skips binary */
  struct rt_buf *ipc = rt_pub_ipc(&pub);
  CHECK(ipc != NULL);
  if (ipc)
    CHECK_STR(ipc->data, "{\"type\":\"message\",\"topic\":\"b\",\"data_base64\":\"AP8B\"}\n");
  rt_buf_unref(ws);
  rt_buf_unref(ipc);
}

TEST(ws_frame_long_text) {
  static char text[70000];
  memset(text, 't', sizeof(text));
  struct rt_pub pub = {.room = "r", .text = text, .text_len = 300};
  struct rt_buf *ws = rt_pub_ws(&pub);
  CHECK(ws->len == 4 + 300 && (uint8_t)ws->data[1] == 126 && (uint8_t)ws->data[3] == 44);
  rt_buf_unref(ws);
  pub = (struct rt_pub){.room = "r", .text = text, .text_len = sizeof(text)};
  ws = rt_pub_ws(&pub);
  CHECK(ws->len == 10 + sizeof(text) && (uint8_t)ws->data[1] == 127);
  rt_buf_unref(ws);
}

/* ---- Sweep ---- */

TEST(sweep_drops_empty_rooms) {
  enum { N = 200 };
  char name[16];
  struct rt_rooms rs;
  struct tmem keep;
  rt_rooms_init(&rs, 2, 100, 1);
  tmem_init(&keep, &rs, NULL);
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "h%d", i);
    CHECK_INT(publish(&rs, name, "x", (uint64_t)i % 50), 0); /* history only */
    if (i % 10 == 0)
      CHECK_INT(rt_room_join(&rs, name, &keep.m), 0);
  }
  CHECK_INT(count_rooms(&rs), N);
  rt_rooms_sweep(&rs, 99); /* nothing old enough yet */
  CHECK_INT(count_rooms(&rs), N);
  rt_rooms_sweep(&rs, 149); /* everything expired: the rooms without members go */
  CHECK_INT(count_rooms(&rs), N / 10);
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof(name), "h%d", i);
    struct rt_room *r = rt_rooms_find(&rs, name);
    CHECK((r != NULL) == (i % 10 == 0)); /* every kept one still found */
    if (r)
      CHECK(r->hist_n == 0 && r->nmembers == 1);
  }
  struct tmem *kept[1] = {&keep};
  CHECK(consistent(&rs, kept, 1));
  tmem_free(&keep); /* leaving: the last rooms go */
  CHECK_INT(count_rooms(&rs), 0);
  rt_rooms_sweep(&rs, 1000);
  rt_rooms_free(&rs);
}

/* ---- History ---- */

struct replayed {
  uint64_t offsets[16];
  size_t n;
  const char *sse[16];
};

static void on_replay(void *ctx, const struct rt_hist_entry *e) {
  struct replayed *r = ctx;
  if (r->n < 16) {
    r->sse[r->n] = e->sse ? e->sse->data : NULL;
    r->offsets[r->n++] = e->offset;
  }
}

static struct replayed replay(const struct rt_rooms *rs, const char *room, uint64_t after,
                              uint64_t now) {
  struct replayed out = {{0}, 0, {0}};
  const struct rt_room *r = rt_rooms_find(rs, room);
  if (r)
    rt_room_replay(rs, r, after, now, on_replay, &out);
  return out;
}

TEST(offsets_count_from_one) {
  struct rt_rooms rs;
  struct tmem t;
  rt_rooms_init(&rs, 8, 1000, 1);
  tmem_init(&t, &rs, NULL);
  CHECK_INT(rt_room_join(&rs, "r", &t.m), 0);
  CHECK_INT(publish(&rs, "r", "a", 0), 1);
  CHECK_INT(t.last_offset, 1);
  CHECK_INT(publish(&rs, "r", "b", 0), 1);
  CHECK_INT(t.last_offset, 2);
  CHECK_INT(publish(&rs, "other", "c", 0), 0);
  CHECK_INT(rt_rooms_find(&rs, "other")->last_offset, 1); /* per room */
  tmem_free(&t);
  rt_rooms_free(&rs);
}

TEST(history_ring_wraps) {
  struct rt_rooms rs;
  char text[8];
  rt_rooms_init(&rs, 3, 1000, 1);
  for (int i = 1; i <= 5; i++) {
    snprintf(text, sizeof(text), "m%d", i);
    publish(&rs, "r", text, 0);
  }
  struct rt_room *r = rt_rooms_find(&rs, "r");
  CHECK(r->hist_n == 3 && r->last_offset == 5);
  struct replayed got = replay(&rs, "r", 0, 0);
  CHECK_INT(got.n, 3);
  CHECK(got.offsets[0] == 3 && got.offsets[1] == 4 && got.offsets[2] == 5);
  CHECK_STR(got.sse[0], "data: m3\n\n");
  CHECK_STR(got.sse[2], "data: m5\n\n");
  for (int i = 6; i <= 11; i++)
    publish(&rs, "r", "more", 0); /* round the ring twice more */
  got = replay(&rs, "r", 0, 0);
  CHECK(got.n == 3 && got.offsets[0] == 9 && got.offsets[2] == 11);
  rt_rooms_free(&rs);
}

TEST(replay_in_order_after_an_offset) {
  struct rt_rooms rs;
  rt_rooms_init(&rs, 8, 1000, 1);
  for (int i = 0; i < 6; i++)
    publish(&rs, "r", "x", (uint64_t)i);
  struct replayed got = replay(&rs, "r", 3, 10);
  CHECK_INT(got.n, 3);
  CHECK(got.offsets[0] == 4 && got.offsets[1] == 5 && got.offsets[2] == 6);
  CHECK_INT(replay(&rs, "r", 6, 10).n, 0);
  struct rt_pub bin = {.room = "r", .text = "\x01", .text_len = 1, .binary = 1};
  rt_rooms_publish(&rs, &bin, 10);
  got = replay(&rs, "r", 6, 10);
  CHECK(got.n == 1 && got.offsets[0] == 7 && got.sse[0] == NULL); /* binary: no SSE event */
  rt_rooms_free(&rs);
}

TEST(history_ttl_expiry) {
  struct rt_rooms rs;
  rt_rooms_init(&rs, 8, 100, 1);
  publish(&rs, "r", "old", 0);
  publish(&rs, "r", "new", 50);
  struct rt_room *r = rt_rooms_find(&rs, "r");
  CHECK_INT(replay(&rs, "r", 0, 99).n, 2);
  struct replayed got = replay(&rs, "r", 0, 100); /* the first is 100 ms old: gone */
  CHECK(got.n == 1 && got.offsets[0] == 2);
  CHECK_INT(rt_room_can_resume(&rs, r, r->epoch, 0, 100), 0);
  CHECK_INT(rt_room_can_resume(&rs, r, r->epoch, 1, 100), 1);
  CHECK_INT(replay(&rs, "r", 0, 150).n, 0);
  CHECK_INT(rt_room_can_resume(&rs, r, r->epoch, 1, 150), 0);
  CHECK_INT(rt_room_can_resume(&rs, r, r->epoch, 2, 150), 1); /* nothing missed */
  /* a publication drops what has expired */
  publish(&rs, "r", "later", 160);
  CHECK_INT(r->hist_n, 1);
  rt_rooms_sweep(&rs, 260);
  CHECK(rt_rooms_find(&rs, "r") == NULL);
  rt_rooms_free(&rs);
}

TEST(can_resume_cases) {
  struct rt_rooms rs;
  rt_rooms_init(&rs, 4, 1000, 7);
  for (int i = 0; i < 6; i++)
    publish(&rs, "r", "x", 0); /* offsets 1-6, 3-6 kept */
  struct rt_room *r = rt_rooms_find(&rs, "r");
  const char *ep = r->epoch;
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 6, 0), 1); /* up to date */
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 5, 0), 1); /* 6 is kept */
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 2, 0), 1); /* 3.. are kept */
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 1, 0), 0); /* 2 is gone: a gap */
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 0, 0), 0);
  CHECK_INT(rt_room_can_resume(&rs, r, ep, 7, 0), 0);  /* from the future */
  CHECK_INT(rt_room_can_resume(&rs, r, "0", 6, 0), 0); /* another epoch */
  CHECK_INT(rt_room_can_resume(&rs, r, "", 6, 0), 0);
  char longer[64];
  snprintf(longer, sizeof(longer), "%s0", ep);
  CHECK_INT(rt_room_can_resume(&rs, r, longer, 6, 0), 0);
  rt_rooms_free(&rs);
}

TEST(epoch_new_when_history_starts_over) {
  struct rt_rooms rs;
  char before[24];
  rt_rooms_init(&rs, 4, 100, 1000);
  publish(&rs, "r", "x", 0);
  struct rt_room *r = rt_rooms_find(&rs, "r");
  snprintf(before, sizeof(before), "%s", r->epoch);
  rt_rooms_sweep(&rs, 200); /* expired, no members: dropped */
  CHECK(rt_rooms_find(&rs, "r") == NULL);
  publish(&rs, "r", "y", 300);
  r = rt_rooms_find(&rs, "r");
  CHECK(r != NULL && strcmp(r->epoch, before) != 0 && r->last_offset == 1);
  CHECK_INT(rt_room_can_resume(&rs, r, before, 1, 300), 0); /* the old position never matches */
  CHECK_INT(rt_room_can_resume(&rs, r, r->epoch, 0, 300), 1);
  /* another muster (another epoch_base) gives other epochs */
  struct rt_rooms other;
  rt_rooms_init(&other, 4, 100, 5000);
  publish(&other, "r", "z", 0);
  CHECK(strcmp(rt_rooms_find(&other, "r")->epoch, r->epoch) != 0);
  rt_rooms_free(&other);
  rt_rooms_free(&rs);
}

TEST(history_shares_the_sse_event) {
  struct rt_rooms rs;
  struct tmem t;
  rt_rooms_init(&rs, 4, 1000, 1);
  tmem_init(&t, &rs, NULL);
  CHECK_INT(rt_room_join(&rs, "r", &t.m), 0);
  publish(&rs, "r", "hello", 0);
  struct rt_room *r = rt_rooms_find(&rs, "r");
  CHECK(r->hist[0].sse == t.sse); /* the one the member got */
  CHECK_INT(t.sse->refs, 2);      /* its and history's */
  tmem_free(&t);
  CHECK_INT(r->hist[0].sse->refs, 1);
  rt_rooms_free(&rs);
}

/* ---- SSE events ---- */

static void check_sse(const char *event, const char *text, size_t len, const char *want) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  rt_sse_event(&b, event, text, len);
  ipc_buf_addc(&b, '\0');
  CHECK_STR(b.data, want);
  ipc_buf_free(&b);
}

#define SSE(text, want) check_sse(NULL, text, sizeof(text) - 1, want)

TEST(sse_lines) {
  SSE("one line", "data: one line\n\n");
  SSE("a\nb", "data: a\ndata: b\n\n");
  SSE("a\rb", "data: a\ndata: b\n\n");
  SSE("a\r\nb", "data: a\ndata: b\n\n");
  SSE("a\n\nb", "data: a\ndata: \ndata: b\n\n");
  SSE("a\r\rb", "data: a\ndata: \ndata: b\n\n");
  SSE("a\n\rb", "data: a\ndata: \ndata: b\n\n"); /* LF then CR: two breaks */
  SSE("a\r\n\r\nb", "data: a\ndata: \ndata: b\n\n");
}

TEST(sse_trailing_break) {
  SSE("a\n", "data: a\ndata: \n\n");
  SSE("a\r", "data: a\ndata: \n\n");
  SSE("a\r\n", "data: a\ndata: \n\n");
  SSE("\n", "data: \ndata: \n\n");
  SSE("\r\n", "data: \ndata: \n\n");
}

TEST(sse_empty_text) {
  SSE("", "data: \n\n");
  check_sse("ping", "", 0, "event: ping\ndata: \n\n");
}

TEST(sse_event_name) {
  check_sse("update", "x\ny", 3, "event: update\ndata: x\ndata: y\n\n");
}

int main(void) {
  RUN(join_and_leave_both_sides);
  RUN(many_members_bookkeeping);
  RUN(leave_all);
  RUN(leave_during_publication);
  RUN(member_made_to_leave_before_its_turn);
  RUN(except_leaves_one_out);
  RUN(publish_to_nobody);
  RUN(encodings_made_once_and_shared);
  RUN(lazy_encodings_same_pointer);
  RUN(binary_encodings);
  RUN(ws_frame_long_text);
  RUN(sweep_drops_empty_rooms);
  RUN(offsets_count_from_one);
  RUN(history_ring_wraps);
  RUN(replay_in_order_after_an_offset);
  RUN(history_ttl_expiry);
  RUN(can_resume_cases);
  RUN(epoch_new_when_history_starts_over);
  RUN(history_shares_the_sse_event);
  RUN(sse_lines);
  RUN(sse_trailing_break);
  RUN(sse_empty_text);
  RUN(sse_event_name);
  return test_summary();
}
