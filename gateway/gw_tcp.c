/* gw_tcp — TCP routes (SPEC §9): each `tcp[]` entry is a listener whose
 * connections are spliced to a ready instance of an upstream service, the
 * one with the fewest connections (round-robin among ties, gw_balance).
 *
 * Both sides are gw_up_conns (the accepted client too): each way, reading
 * stops while the other side has GW_UP_HIGH bytes queued and resumes when
 * it is down to GW_UP_LOW, so a connection holds at most about 2 ×
 * (GW_UP_HIGH + one read) whatever flows through it. A side's EOF is
 * passed on as a shutdown of the other's write side once its queue is out
 * (half-close); the splice closes when both ways are shut, when either
 * side fails, after idle_timeout_ms with no byte either way, or when the
 * instance's process exits (its connections close, new ones go to the
 * others). Per route: connections open and in all, bytes each way, for
 * /metrics.
 *
 * A reload applies the config's tcp[] by listen address: a route whose
 * address is still there keeps its listener, connections and counters and
 * takes the new settings; a new address gets a listener; a route gone
 * stops accepting and is retired, its connections going on until they
 * end (nginx's reload). Each route is allocated alone, as its listener's
 * handle must stay put until closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_balance.h"
#include "gw_listen.h"
#include "gw_pp.h"
#include "gw_tcp.h"
#include "gw_up_pool.h"
#include "ipc_text.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_view.h"
#include "util_vec.h"

#define CONNECT_TRIES 3 /* instances tried for one connection */

struct gw_tcp_route;

/* One client connection and its instance's. */
struct gw_splice {
  struct gw_tcp_route *rt;
  struct gw_up_conn *client;  /* the accepted connection */
  struct gw_up_conn *up;      /* the instance's, NULL before the pick or once closed */
  struct sup_instance *inst;  /* the instance it goes to (counted in rt->tcp->counts) */
  LIST_ENTRY(gw_splice) link; /* rt->splices */
  int tries;                  /* instances tried */
  uint64_t key;               /* balance "ip_hash": its client address's key */
  char ip[UTIL_IP_TEXT];      /* the client's address (its PROXY header's, when one came) */
  struct gw_pp who;           /* the client and the address it reached, for send_proxy_protocol */
  struct ipc_buf pp;          /* proxy_protocol: the header as it comes, then the bytes after it */
  size_t pp_bytes;            /* the header's length, once read */
  unsigned pp_wait : 1;       /* the header is still to come: no instance yet */
  int in_cb;                  /* callbacks of its connections under way (no free then) */
  unsigned client_eof : 1;    /* the client shut its side */
  unsigned up_eof : 1;        /* the instance shut its side */
  unsigned closed : 1;
};

struct gw_tcp_route {
  struct gw_tcp *tcp;
  struct cfg_tcp_route conf; /* as at start (its strings owned: configs are retired) */
  char *service;             /* = conf.service */
  uv_tcp_t listener;
  LIST_HEAD(, gw_splice) splices;
  size_t nconns;                 /* open */
  uint64_t total, refused;       /* accepted in all; closed at once (no instance, full) */
  uint64_t bytes_up, bytes_down; /* client → instance, instance → client */
  size_t rr;                     /* the balancer's cursor */
  unsigned listening : 1;        /* its listener accepts (uv_close not yet called) */
  unsigned handle : 1;           /* its listener's handle is not closed yet */
  unsigned retired : 1;          /* gone from the config: accepts nothing more */
};

struct gw_tcp {
  struct gw_server *srv;        /* the gateway: loop, read buffer */
  struct gw_tcp_route **routes; /* [0, live): the config's, in its order; then retired ones */
  size_t n, live, cap;
  struct gw_map counts; /* instance pointer → its open connections */
  int open;             /* listener handles not yet closed */
  unsigned freeing : 1;
  unsigned stopped : 1; /* shutting down: a reload opens no listener */
};

/* ---- Counting connections per instance ---- */

static size_t count_of(struct gw_tcp *tcp, struct sup_instance *inst) {
  return (size_t)(uintptr_t)gw_map_get(&tcp->counts, (uint64_t)(uintptr_t)inst);
}

static void count_add(struct gw_tcp *tcp, struct sup_instance *inst, int d) {
  size_t n = count_of(tcp, inst) + (size_t)d;
  if (n == 0)
    gw_map_del(&tcp->counts, (uint64_t)(uintptr_t)inst);
  else
    gw_map_put(&tcp->counts, (uint64_t)(uintptr_t)inst, (void *)(uintptr_t)n);
}

/* The ready instance of svc with the fewest connections (or, with
 * by_key, the one key hashes to), never avoid. */
static struct sup_instance *pick(struct gw_tcp_route *rt, struct sup_service *svc,
                                 struct sup_instance *avoid, int by_key, uint64_t key) {
  struct gw_server *srv = rt->tcp->srv;
  struct sup_instance *inst;
  size_t n = 0;
  int full;
  while (sup_view_instance(svc, n))
    n++;
  if (util_vec_reserve(&srv->cands, &srv->capcands, n) != 0)
    return NULL;
  for (size_t i = 0; (inst = sup_view_instance(svc, i)) != NULL; i++)
    srv->cands[i] = (struct gw_cand){.inflight = (unsigned)count_of(rt->tcp, inst),
                                     .usable = inst != avoid && sup_instance_routable(inst)};
  size_t k = by_key ? gw_balance_pick_hash(srv->cands, n, UINT32_MAX, key, &full)
                    : gw_balance_pick(srv->cands, n, UINT32_MAX, &rt->rr, &full);
  return k == GW_BALANCE_NONE ? NULL : sup_view_instance(svc, k);
}

/* ---- Closing ---- */

#define GW_TCP_FINISH_MS 10000 /* the last bytes of a connection: written within this */

static void splice_free(struct gw_splice *s) {
  ipc_buf_free(&s->pp);
  free(s);
}

/* Closes both sides of s; it is freed once no callback of it runs. With
 * graceful, each side closes once what is queued for it is written (both
 * ways ended: the last bytes of each way still go); else at once (an
 * error, the idle timeout, the instance's exit). */
static void splice_end(struct gw_splice *s, int graceful) {
  if (s->closed)
    return;
  sup_log(SUP_DEBUG, "tcp %s: closing a connection (%s, client eof %d, instance eof %d)",
          s->rt->service, s->inst ? sup_view_label(s->inst) : "no instance", s->client_eof,
          s->up_eof);
  s->closed = 1;
  LIST_REMOVE(s, link);
  s->rt->nconns--;
  if (s->inst)
    count_add(s->rt->tcp, s->inst, -1);
  if (s->up && graceful)
    gw_up_conn_finish(s->up, GW_TCP_FINISH_MS);
  else if (s->up)
    gw_up_conn_close(s->up);
  if (graceful)
    gw_up_conn_finish(s->client, GW_TCP_FINISH_MS);
  else
    gw_up_conn_close(s->client);
  if (s->in_cb == 0)
    splice_free(s);
}

static void splice_close(struct gw_splice *s) {
  splice_end(s, 0);
}

/* A callback of s begins / ends (a close inside it frees s at its end). */
static struct gw_splice *enter(struct gw_up_conn *uc) {
  struct gw_splice *s = uc->user;
  s->in_cb++;
  return s;
}

static void leave(struct gw_splice *s) {
  if (--s->in_cb == 0 && s->closed)
    splice_free(s);
}

/* Both ways are shut: done, once the last bytes of each are written. */
static void maybe_done(struct gw_splice *s) {
  if (s->client_eof && s->up_eof)
    splice_end(s, 1);
}

/* Some byte went either way: the idle timer starts again (idle_timeout_ms
 * 0: stopped, which also ends the wait for a PROXY header). */
static void active(struct gw_splice *s) {
  gw_up_conn_timer(s->client, (uint64_t)s->rt->conf.idle_timeout_ms);
}

/* ---- The two sides ---- */

static void connect_to(struct gw_splice *s, struct sup_instance *avoid);

static struct gw_up_conn *other(struct gw_splice *s, struct gw_up_conn *uc) {
  return uc == s->client ? s->up : s->client;
}

/* proxy_protocol: the client's first bytes, until its PROXY header is
 * whole; then the instance is picked (by the header's client, for
 * ip_hash) and the bytes after the header wait for its connection. */
static void pp_read(struct gw_splice *s, const char *data, size_t len) {
  struct gw_pp pp;
  int r = gw_pp_feed(&s->pp, data, len, &pp);
  if (r == GW_PP_ERROR) {
    sup_log(SUP_WARN, "tcp %s: connection from %s: %s (proxy_protocol is on); closing",
            s->rt->service, s->ip, pp.why);
    splice_close(s);
    return;
  }
  if (r == GW_PP_MORE)
    return;
  ipc_buf_add(&s->pp, data + r, len - (size_t)r); /* the client's own bytes, for the instance */
  if (s->pp.oom) {
    splice_close(s);
    return;
  }
  if (!pp.local) {
    util_ip_text(&pp.src, s->ip);
    s->who = pp;
  }
  s->pp_wait = 0;
  s->pp_bytes = s->client->bytes_in - (len - (size_t)r); /* the header's, in all its reads */
  gw_up_conn_pause(s->client, 1); /* until the instance's side is connected */
  active(s);
  connect_to(s, NULL);
}

static void on_read(struct gw_up_conn *uc, const char *data, size_t len) {
  struct gw_splice *s = enter(uc);
  if (s->pp_wait) {
    pp_read(s, data, len);
    leave(s);
    return;
  }
  struct gw_up_conn *to = other(s, uc);
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  if (uc == s->client)
    s->rt->bytes_up += len;
  else
    s->rt->bytes_down += len;
  gw_up_conn_writev(to, &b, 1);
  if (!s->closed && gw_up_conn_queued(to) > GW_UP_HIGH)
    gw_up_conn_pause(uc, 1); /* to's on_drain resumes it */
  if (!s->closed)
    active(s);
  leave(s);
}

/* A side ended: EOF is passed on as a shutdown; an error closes both. */
static void on_end(struct gw_up_conn *uc, int err) {
  struct gw_splice *s = enter(uc);
  if (s->pp_wait) {
    splice_close(s); /* the client went before its PROXY header was whole */
  } else if (uc == s->up && uc->bytes_in == 0 && s->client->bytes_in == s->pp_bytes &&
             !s->client_eof) {
    struct sup_instance *gone = s->inst; /* nothing went either way: a dying instance */
    gw_up_conn_close(uc);
    s->up = NULL;
    if (gone)
      count_add(s->rt->tcp, gone, -1);
    s->inst = NULL;
    connect_to(s, gone);
  } else if (err != UV_EOF) {
    splice_close(s);
  } else {
    if (uc == s->client)
      s->client_eof = 1;
    else
      s->up_eof = 1;
    gw_up_conn_shutdown(other(s, uc));
    maybe_done(s);
  }
  leave(s);
}

/* uc's queue is down: the side that feeds it reads again. */
static void on_drain(struct gw_up_conn *uc) {
  struct gw_splice *s = enter(uc);
  struct gw_up_conn *from = other(s, uc);
  int from_eof = from == s->client ? s->client_eof : s->up_eof;
  if (from && !from_eof && !s->closed)
    gw_up_conn_pause(from, 0);
  leave(s);
}

/* The client's timer: idle_timeout_ms with no byte either way. */
static void on_timeout(struct gw_up_conn *uc) {
  struct gw_splice *s = enter(uc);
  splice_close(s);
  leave(s);
}

/* The instance's side connected, or did not: another instance then. */
static void on_connect(struct gw_up_conn *uc, int status) {
  struct gw_splice *s = enter(uc);
  struct sup_instance *failed = s->inst;
  if (status == 0) {
    if (s->rt->conf.send_proxy_protocol) { /* who the client is, before its bytes */
      char line[GW_PP_V1_MAX];
      uv_buf_t b = uv_buf_init(line, (unsigned)gw_pp_v1(&s->who, line));
      gw_up_conn_writev(uc, &b, 1);
    }
    if (s->pp.len > 0) { /* what came after its PROXY header */
      uv_buf_t b = uv_buf_init(s->pp.data, (unsigned)s->pp.len);
      s->rt->bytes_up += s->pp.len;
      gw_up_conn_writev(uc, &b, 1);
    }
    ipc_buf_free(&s->pp);
    gw_up_conn_pause(s->client, 0); /* the client's bytes may flow now */
  } else {
    sup_log(SUP_WARN, "tcp %s: connect to %s failed: %s", s->rt->service,
            failed ? sup_view_label(failed) : "an instance", uv_err_name(status));
    gw_up_conn_close(uc);
    s->up = NULL;
    if (failed)
      count_add(s->rt->tcp, failed, -1);
    s->inst = NULL;
    connect_to(s, failed);
  }
  leave(s);
}

static const struct gw_up_conn_cbs splice_cbs = {.on_connect = on_connect,
                                                 .on_read = on_read,
                                                 .on_end = on_end,
                                                 .on_drain = on_drain,
                                                 .on_timeout = on_timeout};

/* The client's side never connects (it is accepted). */
static const struct gw_up_conn_cbs *const client_cbs = &splice_cbs;

/* Connects s to an instance other than avoid; none: the client is closed. */
static void connect_to(struct gw_splice *s, struct sup_instance *avoid) {
  struct gw_tcp_route *rt = s->rt;
  struct sup_service *svc = sup_view_find(rt->tcp->srv->host, rt->service);
  const struct cfg_service *cfg = svc ? sup_view_service_cfg(svc) : NULL;
  int by_key = cfg && cfg->upstream.balance == CFG_BALANCE_IP_HASH;
  if (by_key && s->tries == 0)
    s->key = gw_balance_key(s->ip);
  struct sup_instance *inst =
      svc && s->tries < CONNECT_TRIES ? pick(rt, svc, avoid, by_key, s->key) : NULL;
  const char *path;
  int port, ipv6;
  if (inst == NULL || sup_view_upstream_addr(inst, &port, &ipv6, &path) != 0) {
    sup_log(SUP_DEBUG, "tcp %s: no instance to connect to (%d tried)", rt->service, s->tries);
    if (s->tries == 0)
      rt->refused++;
    splice_close(s);
    return;
  }
  s->tries++;
  s->inst = inst;
  count_add(rt->tcp, inst, 1);
  s->up = gw_up_conn_open(rt->tcp->srv, port, ipv6, path,
                          (uint64_t)cfg->upstream.connect_timeout_ms, &splice_cbs, s);
  if (s->up == NULL)
    splice_close(s);
}

/* ---- Accepting ---- */

/* s->who and s->ip from its client's socket: the peer, and with
 * send_proxy_protocol the address it reached ("?" and a local who when
 * the kernel does not say). */
static void who_of(struct gw_splice *s, int local_too) {
  struct sockaddr_storage peer, local;
  int plen = sizeof(peer), llen = sizeof(local);
  const uv_tcp_t *t = &s->client->sock.tcp;
  snprintf(s->ip, sizeof(s->ip), "?");
  if (uv_tcp_getpeername(t, (struct sockaddr *)&peer, &plen) != 0 ||
      util_ip_of_sockaddr((struct sockaddr *)&peer, &s->who.src, &s->who.sport) != 0) {
    s->who.local = 1;
    return;
  }
  gw_addr_text(&peer, s->ip, sizeof(s->ip)); /* as the gateway writes a client's */
  if (local_too &&
      (uv_tcp_getsockname(t, (struct sockaddr *)&local, &llen) != 0 ||
       util_ip_of_sockaddr((struct sockaddr *)&local, &s->who.dst, &s->who.dport) != 0))
    s->who.local = 1;
}

static void on_connection(uv_stream_t *l, int status) {
  struct gw_tcp_route *rt = l->data;
  if (status < 0) {
    sup_log(SUP_WARN, "tcp %s: accept failed: %s", rt->service, uv_strerror(status));
    return;
  }
  struct gw_splice *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return;
  s->rt = rt;
  ipc_buf_init(&s->pp);
  s->client = gw_up_conn_accept(rt->tcp->srv, l, client_cbs, s);
  if (s->client == NULL) {
    free(s);
    return;
  }
  who_of(s, rt->conf.send_proxy_protocol);
  LIST_INSERT_HEAD(&rt->splices, s, link);
  rt->nconns++;
  rt->total++;
  if (rt->nconns > (size_t)rt->conf.max_connections) {
    rt->refused++;
    splice_close(s);
    return;
  }
  if (rt->conf.proxy_protocol) { /* read its header first, within header_timeout_ms */
    s->pp_wait = 1;
    gw_up_conn_timer(s->client, (uint64_t)rt->tcp->srv->cfg->header_timeout_ms);
    return;
  }
  gw_up_conn_pause(s->client, 1); /* until the instance's side is connected */
  active(s);
  connect_to(s, NULL);
}

/* ---- Life cycle ---- */

static void tcp_free_now(struct gw_tcp *tcp);

static void on_listener_closed(uv_handle_t *h) {
  struct gw_tcp_route *rt = h->data;
  struct gw_tcp *tcp = rt->tcp;
  rt->handle = 0;
  if (--tcp->open == 0 && tcp->freeing)
    tcp_free_now(tcp);
}

/* Stops rt accepting (its connections go on). */
static void unlisten(struct gw_tcp_route *rt) {
  if (rt->listening) {
    rt->listening = 0;
    uv_close((uv_handle_t *)&rt->listener, on_listener_closed);
  }
}

/* Opens rt's listener. Returns 0 or < 0 (logged; the handle is closing). */
static int listen_on(struct gw_tcp_route *rt, uv_loop_t *loop) {
  const struct cfg_listen *l = &rt->conf.listen;
  struct sockaddr_storage ss;
  int rc = l->ipv6 ? uv_ip6_addr(l->host, l->port, (struct sockaddr_in6 *)&ss)
                   : uv_ip4_addr(l->host, l->port, (struct sockaddr_in *)&ss);
  if (rc == 0) {
    uv_tcp_init(loop, &rt->listener);
    rt->listener.data = rt;
    rt->listening = rt->handle = 1;
    rt->tcp->open++;
    rc =
        gw_listen_start(&rt->listener, sup_host_listen_fds(rt->tcp->srv->host), &ss, on_connection);
  }
  if (rc < 0) {
    sup_log(SUP_ERROR, "tcp %s: listen on %s:%d failed: %s", rt->service, l->host, l->port,
            uv_err_name(rc));
    unlisten(rt);
  } else {
    sup_log(SUP_INFO, "tcp %s: listening on %s%s%s:%d", rt->service, l->ipv6 ? "[" : "", l->host,
            l->ipv6 ? "]" : "", l->port);
  }
  return rc;
}

/* Takes c's settings (its strings copied). Returns 0, or -1 (rt unchanged). */
static int route_set(struct gw_tcp_route *rt, const struct cfg_tcp_route *c) {
  char *host = strdup(c->listen.host), *service = strdup(c->service);
  if (host == NULL || service == NULL) {
    free(host);
    free(service);
    return -1;
  }
  free(rt->conf.listen.host);
  free(rt->service);
  rt->conf = *c;
  rt->conf.listen.host = host;
  rt->service = rt->conf.service = service;
  return 0;
}

/* A route for c, not listening yet. NULL on out of memory. */
static struct gw_tcp_route *route_new(struct gw_tcp *tcp, const struct cfg_tcp_route *c) {
  struct gw_tcp_route *rt = calloc(1, sizeof(*rt));
  if (rt == NULL)
    return NULL;
  rt->tcp = tcp;
  LIST_INIT(&rt->splices);
  if (route_set(rt, c) != 0) {
    free(rt);
    return NULL;
  }
  return rt;
}

static void route_free(struct gw_tcp_route *rt) {
  free(rt->service);
  free(rt->conf.listen.host);
  free(rt);
}

struct gw_tcp *gw_tcp_start(struct gw_server *srv, const struct cfg *cfg) {
  struct gw_tcp *tcp = calloc(1, sizeof(*tcp));
  if (tcp == NULL)
    return NULL;
  tcp->srv = srv;
  gw_map_init(&tcp->counts);
  if (util_vec_reserve(&tcp->routes, &tcp->cap, cfg->ntcp) != 0) {
    free(tcp);
    return NULL;
  }
  for (size_t i = 0; i < cfg->ntcp; i++) {
    struct gw_tcp_route *rt = route_new(tcp, &cfg->tcp[i]);
    if (rt == NULL) {
      sup_log(SUP_ERROR, "tcp[%zu]: out of memory", i);
      continue;
    }
    tcp->routes[tcp->n++] = rt;
    listen_on(rt, srv->loop); /* a failure is logged; the rest runs */
  }
  tcp->live = tcp->n;
  return tcp;
}

/* Frees tcp and what it owns (its listeners are closed). */
static void tcp_free_now(struct gw_tcp *tcp) {
  for (size_t i = 0; i < tcp->n; i++)
    route_free(tcp->routes[i]);
  free(tcp->routes);
  gw_map_free(&tcp->counts);
  free(tcp);
}

void gw_tcp_stop(struct gw_tcp *tcp, int connections) {
  if (tcp)
    tcp->stopped = 1;
  for (size_t i = 0; tcp && i < tcp->n; i++) {
    struct gw_tcp_route *rt = tcp->routes[i];
    unlisten(rt);
    while (connections && !LIST_EMPTY(&rt->splices))
      splice_close(LIST_FIRST(&rt->splices));
  }
}

void gw_tcp_free(struct gw_tcp *tcp) {
  if (tcp == NULL)
    return;
  gw_tcp_stop(tcp, 1);
  tcp->freeing = 1;
  if (tcp->open == 0)
    tcp_free_now(tcp); /* else the last listener's close does */
}

/* ---- Reload ---- */

/* The live route listening on l, or NULL. */
static struct gw_tcp_route *route_at(struct gw_tcp *tcp, const struct cfg_listen *l) {
  for (size_t i = 0; i < tcp->live; i++) {
    struct gw_tcp_route *rt = tcp->routes[i];
    if (rt->conf.listen.port == l->port && strcmp(rt->conf.listen.host, l->host) == 0)
      return rt;
  }
  return NULL;
}

/* 1 when cfg has a route on rt's address. */
static int still_configured(const struct gw_tcp_route *rt, const struct cfg *cfg) {
  for (size_t i = 0; i < cfg->ntcp; i++)
    if (cfg->tcp[i].listen.port == rt->conf.listen.port &&
        strcmp(cfg->tcp[i].listen.host, rt->conf.listen.host) == 0)
      return 1;
  return 0;
}

/* Frees the retired routes with neither a listener nor a connection left
 * (at each reload: one waiting for its last connection costs a few
 * hundred bytes until then). */
static void sweep(struct gw_tcp *tcp) {
  size_t k = tcp->live;
  for (size_t i = tcp->live; i < tcp->n; i++) {
    struct gw_tcp_route *rt = tcp->routes[i];
    if (!rt->handle && LIST_EMPTY(&rt->splices))
      route_free(rt);
    else
      tcp->routes[k++] = rt;
  }
  tcp->n = k;
}

/* Marks the live routes gone from cfg retired and stops them accepting. */
static void retire_removed(struct gw_tcp *tcp, const struct cfg *cfg) {
  for (size_t i = 0; i < tcp->live; i++) {
    struct gw_tcp_route *rt = tcp->routes[i];
    if (still_configured(rt, cfg))
      continue;
    sup_log(SUP_INFO,
            "tcp %s: %s:%d is no longer in the config: not accepting (%zu connections "
            "go on)",
            rt->service, rt->conf.listen.host, rt->conf.listen.port, rt->nconns);
    rt->retired = 1;
    unlisten(rt);
  }
}

int gw_tcp_reload(struct gw_tcp *tcp, const struct cfg *cfg) {
  size_t cap = tcp->n + cfg->ntcp, n = 0;
  struct gw_tcp_route **next = calloc(cap ? cap : 1, sizeof(*next));
  if (next == NULL)
    return -1;
  retire_removed(tcp, cfg); /* first: a port given up may be taken again below */
  for (size_t i = 0; i < cfg->ntcp; i++) {
    struct gw_tcp_route *rt = route_at(tcp, &cfg->tcp[i].listen);
    if (rt != NULL && strcmp(rt->service, cfg->tcp[i].service) != 0)
      sup_log(SUP_INFO, "tcp %s: %s:%d goes to %s from now on", rt->service, rt->conf.listen.host,
              rt->conf.listen.port, cfg->tcp[i].service);
    if (rt != NULL && route_set(rt, &cfg->tcp[i]) != 0)
      sup_log(SUP_ERROR, "tcp %s: out of memory for its new settings", rt->service);
    if (rt == NULL && (rt = route_new(tcp, &cfg->tcp[i])) == NULL) {
      sup_log(SUP_ERROR, "tcp[%zu]: out of memory", i);
      continue;
    }
    next[n++] = rt;
    if (!rt->listening && !rt->handle && !tcp->stopped)
      listen_on(rt, tcp->srv->loop); /* new, or its listen failed before */
  }
  size_t live = n;
  for (size_t i = 0; i < tcp->n; i++)
    if (tcp->routes[i]->retired)
      next[n++] = tcp->routes[i];
  free(tcp->routes);
  tcp->routes = next;
  tcp->n = n;
  tcp->live = live;
  tcp->cap = cap ? cap : 1;
  sweep(tcp);
  return 0;
}

void gw_tcp_instance_gone(struct gw_tcp *tcp, struct sup_instance *inst) {
  for (size_t i = 0; tcp && i < tcp->n; i++) {
    struct gw_splice *s, *next;
    for (s = LIST_FIRST(&tcp->routes[i]->splices); s; s = next) {
      next = LIST_NEXT(s, link);
      if (s->inst != inst)
        continue;
      if (s->up && s->up->connected) {
        splice_close(s); /* its instance is gone: so is the connection */
        continue;
      }
      if (s->up) /* still connecting: another instance then */
        gw_up_conn_close(s->up);
      s->up = NULL;
      count_add(tcp, inst, -1);
      s->inst = NULL;
      connect_to(s, inst);
    }
  }
}

void gw_tcp_status(const struct gw_tcp *tcp, const char *service, struct ipc_buf *b) {
  char at[UTIL_IP_TEXT + 16];
  int n = 0;
  ipc_buf_adds(b, ",\"tcp\":[");
  for (size_t i = 0; tcp && i < tcp->live; i++) {
    const struct gw_tcp_route *rt = tcp->routes[i];
    if (strcmp(rt->service, service) != 0)
      continue;
    const struct cfg_listen *l = &rt->conf.listen;
    snprintf(at, sizeof(at), "%s%s%s:%d", l->ipv6 ? "[" : "", l->host, l->ipv6 ? "]" : "", l->port);
    ipc_buf_adds(b, n++ ? ",{\"listen\":" : "{\"listen\":");
    ipc_json_str(b, at, strlen(at));
    ipc_buf_adds(b, ",\"connections\":");
    ipc_buf_addi(b, (int64_t)rt->nconns);
    ipc_buf_adds(b, ",\"total\":");
    ipc_buf_addi(b, (int64_t)rt->total);
    ipc_buf_addc(b, '}');
  }
  ipc_buf_addc(b, ']');
}

void gw_tcp_render_metrics(const struct gw_tcp *tcp, struct ipc_buf *b) {
  static const char *const fams[] = {
      "# HELP muster_tcp_connections TCP route connections open.\n"
      "# TYPE muster_tcp_connections gauge\n",
      "# HELP muster_tcp_connections_total TCP route connections accepted.\n"
      "# TYPE muster_tcp_connections_total counter\n",
      "# HELP muster_tcp_refused_total TCP route connections closed at once (no ready instance, "
      "max_connections).\n# TYPE muster_tcp_refused_total counter\n",
      "# HELP muster_tcp_bytes_total Bytes through TCP routes, by direction.\n"
      "# TYPE muster_tcp_bytes_total counter\n"};
  char line[512];
  for (size_t f = 0; tcp && tcp->live && f < 4; f++) {
    ipc_buf_adds(b, fams[f]);
    for (size_t i = 0; i < tcp->live; i++) {
      const struct gw_tcp_route *rt = tcp->routes[i];
      char route[160];
      snprintf(route, sizeof(route), "route=\"%s:%d\",service=\"%s\"", rt->conf.listen.host,
               rt->conf.listen.port, rt->service);
      if (f == 0)
        snprintf(line, sizeof(line), "muster_tcp_connections{%s} %zu\n", route, rt->nconns);
      else if (f == 1)
        snprintf(line, sizeof(line), "muster_tcp_connections_total{%s} %llu\n", route,
                 (unsigned long long)rt->total);
      else if (f == 2)
        snprintf(line, sizeof(line), "muster_tcp_refused_total{%s} %llu\n", route,
                 (unsigned long long)rt->refused);
      else
        snprintf(line, sizeof(line),
                 "muster_tcp_bytes_total{%s,direction=\"in\"} %llu\n"
                 "muster_tcp_bytes_total{%s,direction=\"out\"} %llu\n",
                 route, (unsigned long long)rt->bytes_up, route,
                 (unsigned long long)rt->bytes_down);
      ipc_buf_adds(b, line);
    }
  }
}
