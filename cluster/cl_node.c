/* cl_node — the node: its two Redis connections, the rooms it follows
 * (subscribed while they have members here, and CL_LINGER_MS after), the
 * host channel, metrics. See cl_node.h. */
#include "cl_node.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cl_int.h"
#include "sup_log.h"

#define SUB_BATCH 256 /* channels per SUBSCRIBE when resubscribing */

uint64_t cl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cl_key(struct ipc_buf *b, const char *kind, const char *name) {
  ipc_buf_reset(b);
  ipc_buf_adds(b, CL_KEY_PREFIX);
  ipc_buf_adds(b, kind);
  ipc_buf_addc(b, ':');
  ipc_buf_adds(b, name);
  ipc_buf_addc(b, '\0');
  b->len--; /* NUL-terminated, not counted */
}

int cl_up(const struct cl_node *cl) {
  return cl_redis_up(&cl->cmd) && cl_redis_up(&cl->sub);
}

const char *cl_node_host_id(const struct cl_node *cl) {
  return cl->host_id;
}

/* ---- Following rooms ---- */

static struct cl_node *node_of(struct cl_redis *r) {
  return r->data;
}

/* SUBSCRIBE (or UNSUBSCRIBE) the channels of n rooms in one command. */
static void subscribe_rooms(struct cl_node *cl, const char *verb, struct cl_room **v, size_t n) {
  const char *argv[SUB_BATCH + 1];
  size_t lens[SUB_BATCH + 1];
  struct ipc_buf names;
  size_t *offs = calloc(n ? n : 1, sizeof(*offs));
  if (offs == NULL)
    return;
  ipc_buf_init(&names);
  for (size_t i = 0; i < n; i++) {
    offs[i] = names.len;
    ipc_buf_adds(&names, CL_KEY_PREFIX "room:");
    ipc_buf_adds(&names, v[i]->room->name);
    lens[i % SUB_BATCH + 1] = names.len - offs[i];
    if (i % SUB_BATCH == SUB_BATCH - 1 || i == n - 1) {
      size_t k = i % SUB_BATCH + 1, first = i + 1 - k;
      argv[0] = verb;
      lens[0] = strlen(verb);
      for (size_t j = 0; j < k && !names.oom; j++)
        argv[j + 1] = names.data + offs[first + j];
      if (!names.oom)
        cl_redis_send(&cl->sub, (int)k + 1, argv, lens);
    }
  }
  if (strcmp(verb, "SUBSCRIBE") == 0)
    for (size_t i = 0; i < n; i++)
      v[i]->subscribed = 1;
  ipc_buf_free(&names);
  free(offs);
}

static void follow(struct cl_node *cl, struct rt_room *r) {
  struct cl_room *cr = r->ext;
  if (cr == NULL) {
    if ((cr = calloc(1, sizeof(*cr))) == NULL) {
      sup_log(SUP_WARN, "cluster: out of memory following room \"%s\"", r->name);
      return;
    }
    cr->room = r;
    r->ext = cr;
    rt_room_history_clear(r); /* positions come from Redis from now on */
    cl_deliver_followed(cl, cr);
  }
  if (cr->unused_since) {
    TAILQ_REMOVE(&cl->lingering, cr, linger);
    cr->unused_since = 0;
  }
  if (!cr->subscribed && cl_redis_up(&cl->sub))
    subscribe_rooms(cl, "SUBSCRIBE", &cr, 1);
}

/* The room's last member left CL_LINGER_MS ago: this host stops following it. */
static void unfollow(struct cl_node *cl, struct cl_room *cr) {
  struct rt_room *r = cr->room;
  TAILQ_REMOVE(&cl->lingering, cr, linger);
  if (cr->subscribed && cl_redis_up(&cl->sub))
    subscribe_rooms(cl, "UNSUBSCRIBE", &cr, 1);
  r->ext = NULL;
  cl_room_free_state(cr);
  rt_room_history_clear(r); /* no longer the room's latest */
  rt_room_release(cl->rooms, r);
}

static void on_used(void *ctx, struct rt_room *r, int used) {
  struct cl_node *cl = ctx;
  struct cl_room *cr = r->ext;
  if (cl->closing)
    return;
  if (used) {
    follow(cl, r);
  } else if (cr && cr->unused_since == 0) {
    cr->unused_since = uv_now(cl->loop) ? uv_now(cl->loop) : 1;
    TAILQ_INSERT_TAIL(&cl->lingering, cr, linger);
  }
}

static void on_tick(uv_timer_t *t) {
  struct cl_node *cl = t->data;
  uint64_t now = uv_now(cl->loop);
  struct cl_room *cr;
  while ((cr = TAILQ_FIRST(&cl->lingering)) != NULL && now - cr->unused_since >= CL_LINGER_MS) {
    if (cr->room->live > 0) { /* cannot happen: follow() takes it off */
      TAILQ_REMOVE(&cl->lingering, cr, linger);
      cr->unused_since = 0;
      continue;
    }
    unfollow(cl, cr);
  }
}

/* Calls fn for every room this host follows. */
static void each_followed(struct cl_node *cl, void (*fn)(struct cl_node *, struct cl_room *)) {
  for (size_t i = 0; i < cl->rooms->cap; i++) {
    struct rt_room *r = cl->rooms->slots[i];
    if (r && r->ext)
      fn(cl, r->ext);
  }
}

/* ---- The subscriptions connection ---- */

static void collect(struct cl_node *cl, struct cl_room *cr) {
  (void)cl;
  cr->subscribed = cr->confirmed = 0;
}

static void resubscribe_all(struct cl_node *cl) {
  struct cl_room **v = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < cl->rooms->cap; i++) {
    struct rt_room *r = cl->rooms->slots[i];
    if (r == NULL || r->ext == NULL)
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 64;
      struct cl_room **nv = realloc(v, nc * sizeof(*nv));
      if (nv == NULL)
        break;
      v = nv;
      cap = nc;
    }
    v[n++] = r->ext;
  }
  if (n > 0)
    subscribe_rooms(cl, "SUBSCRIBE", v, n); /* one pipeline */
  free(v);
}

static void sub_up(struct cl_redis *r) {
  struct cl_node *cl = node_of(r);
  const char *argv[] = {"SUBSCRIBE", cl->host_channel};
  size_t lens[] = {9, strlen(cl->host_channel)};
  cl_redis_send(r, 2, argv, lens);
  resubscribe_all(cl);
}

static void sub_down(struct cl_redis *r) {
  struct cl_node *cl = node_of(r);
  each_followed(cl, collect);
  cl_pub_flush_local(cl); /* their echoes may not come */
}

/* A push: a room's message, the host channel's, a confirmation. */
static void sub_push(struct cl_redis *r, const redisReply *reply) {
  struct cl_node *cl = node_of(r);
  static const char room_prefix[] = CL_KEY_PREFIX "room:";
  if (reply->elements < 3 || reply->element[1]->type != REDIS_REPLY_STRING)
    return;
  const char *kind = reply->element[0]->str, *ch = reply->element[1]->str;
  const redisReply *payload = reply->element[2];
  if (strcmp(kind, "message") == 0 && payload->type == REDIS_REPLY_STRING &&
      strcmp(ch, cl->host_channel) == 0) {
    cl->st.conn_in++;
    if (cl->hooks.conn_msg)
      cl->hooks.conn_msg(cl->hooks.ctx, payload->str, payload->len);
    return;
  }
  if (strncmp(ch, room_prefix, sizeof(room_prefix) - 1) != 0)
    return;
  struct rt_room *room = rt_rooms_find(cl->rooms, ch + sizeof(room_prefix) - 1);
  struct cl_room *cr = room ? room->ext : NULL;
  if (cr == NULL)
    return; /* unfollowed meanwhile */
  if (strcmp(kind, "message") == 0 && payload->type == REDIS_REPLY_STRING) {
    cl_deliver_posted(cl, cr, payload->str, payload->len);
  } else if (strcmp(kind, "subscribe") == 0 && cr->subscribed) {
    cr->confirmed = 1;
    cl_deliver_subscribed(cl, cr);
  }
}

/* ---- The commands connection ---- */

static void on_script_loaded(struct cl_redis *r, const redisReply *reply, void *privdata) {
  const char *want = privdata;
  if (reply && (reply->type != REDIS_REPLY_STRING || strcmp(reply->str, want) != 0))
    sup_log(SUP_ERROR, "cluster: Redis at %s:%d did not load muster's script (%s)", r->host,
            r->port, reply->type == REDIS_REPLY_ERROR ? reply->str : "another SHA-1");
}

static void load_script(struct cl_node *cl, const char *script, char *sha) {
  const char *argv[] = {"SCRIPT", "LOAD", script};
  size_t lens[] = {6, 4, strlen(script)};
  cl_redis_command(&cl->cmd, on_script_loaded, sha, 3, argv, lens);
}

static void catch_up_due(struct cl_node *cl, struct cl_room *cr) {
  if (cr->catch_up_due) {
    cr->catch_up_due = 0;
    cl_deliver_catch_up(cl, cr);
  }
}

static void cmd_up(struct cl_redis *r) {
  struct cl_node *cl = node_of(r);
  load_script(cl, cl_script_publish, cl->pub_sha); /* EVALSHA from here on */
  cl_pub_resend(cl);
  each_followed(cl, catch_up_due);
}

static void cmd_down(struct cl_redis *r) {
  cl_pub_flush_local(node_of(r));
}

/* ---- Messages for another host's connections ---- */

static void on_published(struct cl_redis *r, const redisReply *reply, void *privdata) {
  (void)privdata;
  if (reply && reply->type == REDIS_REPLY_ERROR) {
    node_of(r)->st.errors++;
    sup_log(SUP_WARN, "cluster: Redis refused a PUBLISH: %s", reply->str);
  }
}

int cl_node_to_host(struct cl_node *cl, const char *host, size_t hlen, const char *line,
                    size_t len) {
  char ch[128];
  int n = snprintf(ch, sizeof(ch), CL_KEY_PREFIX "host:%.*s", (int)hlen, host);
  if (n < 0 || (size_t)n >= sizeof(ch))
    return UV_EINVAL;
  const char *argv[] = {"PUBLISH", ch, line};
  size_t lens[] = {7, (size_t)n, len};
  int rc = cl_redis_command(&cl->cmd, on_published, NULL, 3, argv, lens);
  if (rc == 0)
    cl->st.conn_out++;
  return rc;
}

/* ---- State ---- */

int cl_node_in_sync(const struct cl_node *cl, const struct rt_room *r) {
  const struct cl_room *cr = r->ext;
  return cr && cl_up(cl) && cr->confirmed && !cr->catching_up && cr->last > 0 &&
         cr->last == r->last_offset && strcmp(cr->epoch, r->epoch) == 0;
}

uint32_t cl_origin_id(struct cl_node *cl, const char *origin, size_t len) {
  for (size_t i = 0; i < cl->norigins; i++)
    if (strlen(cl->origins[i]) == len && memcmp(cl->origins[i], origin, len) == 0)
      return (uint32_t)i;
  if (cl->norigins == cl->caporigins) {
    size_t nc = cl->caporigins ? cl->caporigins * 2 : 16;
    char **v = realloc(cl->origins, nc * sizeof(*v));
    if (v == NULL)
      return UINT32_MAX;
    cl->origins = v;
    cl->caporigins = nc;
  }
  if ((cl->origins[cl->norigins] = strndup(origin, len)) == NULL)
    return UINT32_MAX;
  return (uint32_t)cl->norigins++;
}

void cl_room_free_state(struct cl_room *cr) {
  for (size_t i = 0; i < cr->nheld; i++)
    free(cr->held[i].bytes);
  free(cr->held);
  free(cr->marks);
  free(cr);
}

/* ---- Life ---- */

/* The machine's name as a host id: [A-Za-z0-9._-], at most 64. */
static void default_host_id(char *out, size_t n) {
  char name[256] = "";
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
    snprintf(name, sizeof(name), "muster");
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < n && k < 64; p++)
    out[k++] =
        strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *p) ? *p : '-';
  out[k] = '\0';
}

int cl_node_new(struct cl_node **out, uv_loop_t *loop, const struct cfg_cluster *cfg,
                const struct cfg_realtime *rt, struct rt_rooms *rooms,
                const struct cl_hooks *hooks) {
  static const struct cl_redis_cbs cmd_cbs = {.up = cmd_up, .down = cmd_down};
  static const struct cl_redis_cbs sub_cbs = {.up = sub_up, .down = sub_down, .push = sub_push};
  struct cl_node *cl = calloc(1, sizeof(*cl));
  if (cl == NULL)
    return UV_ENOMEM;
  cl->loop = loop;
  cl->rooms = rooms;
  cl->hooks = *hooks;
  if (cfg->host_id)
    snprintf(cl->host_id, sizeof(cl->host_id), "%s", cfg->host_id);
  else
    default_host_id(cl->host_id, sizeof(cl->host_id));
  snprintf(cl->origin, sizeof(cl->origin), "%s/%llx", cl->host_id,
           (unsigned long long)(cl_now_ms() << 16 ^ (uint64_t)getpid()));
  snprintf(cl->host_channel, sizeof(cl->host_channel), CL_KEY_PREFIX "host:%s", cl->host_id);
  cl->maxlen = rt->history_size > 0 ? (uint64_t)rt->history_size : CL_REPAIR_WINDOW;
  cl->history_ttl_ms = (uint64_t)rt->history_ttl_s * 1000;
  cl->password = cfg->redis_password ? strdup(cfg->redis_password) : NULL;
  cl_script_sha(cl_script_publish, cl->pub_sha);
  TAILQ_INIT(&cl->own);
  TAILQ_INIT(&cl->lingering);
  rooms->on_used = on_used;
  rooms->hook_ctx = cl;
  uv_timer_init(loop, &cl->tick);
  cl->tick.data = cl;
  uv_timer_start(&cl->tick, on_tick, 1000, 1000);
  cl_redis_start(&cl->cmd, loop, "commands", cfg->redis_host, cfg->redis_port, cl->password, 0,
                 &cmd_cbs, cl);
  cl_redis_start(&cl->sub, loop, "subscriptions", cfg->redis_host, cfg->redis_port, cl->password, 1,
                 &sub_cbs, cl);
  sup_log(SUP_INFO, "cluster: host %s, Redis at %s:%d", cl->host_id, cfg->redis_host,
          cfg->redis_port);
  *out = cl;
  return 0;
}

static void forget(struct cl_node *cl, struct cl_room *cr) {
  (void)cl;
  cr->room->ext = NULL;
  cl_room_free_state(cr);
}

static void closed_one(struct cl_node *cl) {
  if (--cl->open > 0)
    return;
  each_followed(cl, forget);
  cl_pub_free(cl);
  for (size_t i = 0; i < cl->norigins; i++)
    free(cl->origins[i]);
  free(cl->origins);
  free(cl->password);
  void (*done)(void *) = cl->done;
  void *arg = cl->done_arg;
  free(cl);
  if (done)
    done(arg);
}

static void on_redis_closed(struct cl_redis *r) {
  closed_one(node_of(r));
}

static void on_tick_closed(uv_handle_t *h) {
  closed_one(h->data);
}

void cl_node_close(struct cl_node *cl, void (*done)(void *arg), void *arg) {
  if (cl->closing)
    return;
  cl->closing = 1;
  cl->done = done;
  cl->done_arg = arg;
  cl->rooms->on_used = NULL;
  cl->open = 3;
  cl_redis_stop(&cl->cmd, on_redis_closed);
  cl_redis_stop(&cl->sub, on_redis_closed);
  uv_close((uv_handle_t *)&cl->tick, on_tick_closed);
}

/* ---- Metrics ---- */

static void metric(struct ipc_buf *b, const char *name, const char *type, const char *help,
                   uint64_t v) {
  char line[256];
  snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
           name, (unsigned long long)v);
  ipc_buf_adds(b, line);
}

void cl_node_metrics(const struct cl_node *cl, struct ipc_buf *b) {
  const struct cl_stats *s = &cl->st;
  size_t followed = 0;
  for (size_t i = 0; i < cl->rooms->cap; i++)
    followed += cl->rooms->slots[i] && cl->rooms->slots[i]->ext;
  metric(b, "muster_redis_up", "gauge", "1 when both Redis connections are up.", cl_up(cl));
  metric(b, "muster_redis_reconnects_total", "counter", "Redis connections lost.",
         cl->cmd.drops + cl->sub.drops);
  metric(b, "muster_cluster_published_total", "counter", "Publications Redis took.", s->published);
  metric(b, "muster_cluster_delivered_total", "counter", "Publications from Redis delivered here.",
         s->delivered);
  metric(b, "muster_cluster_local_total", "counter",
         "Publications delivered here at once while Redis was away.", s->local_only);
  metric(b, "muster_cluster_duplicates_total", "counter",
         "Publications dropped as delivered here already.", s->duplicates);
  metric(b, "muster_cluster_repaired_total", "counter",
         "Publications read back from Redis after a gap.", s->repaired);
  metric(b, "muster_cluster_lost_total", "counter",
         "Publications that Redis no longer kept when a gap was read back.", s->lost);
  metric(b, "muster_cluster_dropped_total", "counter",
         "Publications that never reached Redis (outbox full).", s->dropped);
  metric(b, "muster_cluster_errors_total", "counter", "Commands Redis refused.", s->errors);
  metric(b, "muster_cluster_outbox", "gauge", "Publications waiting for Redis.", cl->nown);
  metric(b, "muster_cluster_rooms", "gauge", "Rooms this host follows.", followed);
  metric(b, "muster_cluster_conn_messages_out_total", "counter",
         "Messages for connections on other hosts.", s->conn_out);
  metric(b, "muster_cluster_conn_messages_in_total", "counter",
         "Messages from other hosts for connections here.", s->conn_in);
}
