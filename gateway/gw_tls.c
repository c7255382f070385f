/* gw_tls — the TLS listener and transport: the TLS module's table
 * (gw_tls_mod.h), behind the gateway's gw_tls.h. See gw_tls.h. */
#include "gw_tls_mod.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gw.h"
#include "gw_cert.h"
#include "gw_listen.h"
#include "sup_host.h"
#include "sup_log.h"

#define CHUNK (64 * 1024)    /* plaintext per SSL_write: the write BIO stays small */
#define KEEP_BIO (64 * 1024) /* a memory BIO grown past this is replaced once empty */
#define KEEP_PT (64 * 1024)  /* plaintext buffer capacity kept between turns */

/* Where a connection's TLS is. */
enum tls_state {
  ST_NEW = 0,   /* nothing read yet */
  ST_HANDSHAKE, /* a handshake record came: SSL_do_handshake until done */
  ST_OPEN,      /* handshake done: application data both ways */
  ST_DONE       /* failed, refused or shut: nothing more goes through SSL */
};

/* Handshake outcomes, as /metrics names them. */
enum tls_outcome {
  OUT_OK = 0,     /* finished */
  OUT_VERSION,    /* refused: the client's versions are all older than min_version */
  OUT_FAILED,     /* any other handshake failure (garbage records, no shared cipher) */
  OUT_PLAIN_HTTP, /* plain HTTP on the TLS port: 400 */
  OUT_NOT_TLS,    /* the first byte is no handshake record nor a request line: dropped */
  OUT_TIMEOUT,    /* not finished within header_timeout_ms */
  OUT_ABORTED,    /* the connection ended during the handshake */
  NOUT
};
static const char *const outcome_names[NOUT] = {
    "ok", "version_refused", "failed", "plain_http", "not_tls", "timeout", "aborted"};

/* Versions, as /metrics names them (OpenSSL's names). */
enum { V_13 = 0, V_12, V_11, V_10, V_UNKNOWN, NVER };
static const char *const version_names[NVER] = {"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1",
                                                "unknown"};

struct gw_tls_server {
  struct gw_server *srv;
  uv_tcp_t *listener;           /* while listening (gw_listen) */
  struct sockaddr_storage addr; /* where it listens (kept for an undrain) */
  struct cfg_listen at;         /* that address as configured (host owned) */
  struct gw_cert_set *certs;    /* what new handshakes use; a reference */
  struct gw_cert_set *next;     /* loaded by a reload not yet in force; a reference */
  uint64_t hs[NVER][NOUT];      /* handshakes by version and outcome */
  char pbuf[16384];             /* decrypted bytes, handed on at once (shared) */
  unsigned listening : 1;
  unsigned on : 1;   /* the config in force has gateway.tls */
  unsigned used : 1; /* it was on once: its metrics are shown */
};

/* A connection's TLS (c->tdata). */
struct gw_tls_conn {
  struct gw_tls_server *ts;
  SSL *ssl;
  struct gw_cert_set *set; /* the certificates it started with; a reference */
  struct ipc_buf pt;       /* the protocol's bytes this turn, encrypted at the flush */
  enum tls_state state;
  unsigned counted : 1; /* its handshake is in the metrics */
  unsigned shut : 1;    /* our close_notify is written */
};

/* ---- Metrics ---- */

static int version_index(int v) {
  switch (v) {
  case TLS1_3_VERSION:
    return V_13;
  case TLS1_2_VERSION:
    return V_12;
  case TLS1_1_VERSION:
    return V_11;
  case TLS1_VERSION:
    return V_10;
  default:
    return V_UNKNOWN;
  }
}

/* Counts t's handshake once, with version index v. */
static void count(struct gw_tls_conn *t, enum tls_outcome o, int v) {
  if (t->counted)
    return;
  t->counted = 1;
  t->ts->hs[v][o]++;
}

static void mod_render_metrics(const struct gw_tls_server *ts, struct ipc_buf *b) {
  if (ts == NULL || !ts->used)
    return;
  gw_metrics_printf(b, "# HELP muster_tls_handshakes_total TLS handshakes on gateway.tls.listen, "
                       "by version and outcome.\n# TYPE muster_tls_handshakes_total counter\n");
  for (int v = 0; v < NVER; v++)
    for (int o = 0; o < NOUT; o++)
      if (ts->hs[v][o] || (o == OUT_OK && v <= V_12))
        gw_metrics_printf(b, "muster_tls_handshakes_total{version=\"%s\",outcome=\"%s\"} %llu\n",
                          version_names[v], outcome_names[o], (unsigned long long)ts->hs[v][o]);
}

/* ---- Writing: plaintext of a turn → SSL_write → the socket ---- */

/* Replaces the memory BIO bio of t (which = 'r' or 'w') by a new one when
 * it is empty but grew past KEEP_BIO (one big answer, once). */
static void shrink_bio(struct gw_tls_conn *t, BIO *bio, int which) {
  BUF_MEM *bm = NULL;
  BIO_get_mem_ptr(bio, &bm);
  if (bm == NULL || bm->max <= KEEP_BIO || BIO_ctrl_pending(bio) != 0)
    return;
  BIO *nb = BIO_new(BIO_s_mem());
  if (nb == NULL)
    return;
  BIO_set_mem_eof_return(nb, -1);
  if (which == 'w')
    SSL_set0_wbio(t->ssl, nb);
  else
    SSL_set0_rbio(t->ssl, nb);
}

/* Hands what OpenSSL wrote (records, alerts) to the socket queue. */
static void send_records(struct gw_conn *c, struct gw_tls_conn *t) {
  BIO *w = SSL_get_wbio(t->ssl);
  char *p;
  long n = BIO_get_mem_data(w, &p);
  if (n <= 0)
    return;
  uv_buf_t b = uv_buf_init(p, (unsigned)n);
  gw_conn_sock_writev(c, &b, 1); /* tries the socket at once; copies what waits */
  (void)BIO_reset(w);
  shrink_bio(t, w, 'w');
}

/* Encrypts what the protocol wrote this turn, in CHUNK pieces, each sent
 * on. Returns 0, or -1 when SSL failed (the connection is closed). */
static int encrypt_pending(struct gw_conn *c, struct gw_tls_conn *t) {
  size_t off = 0;
  while (off < t->pt.len && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    size_t n = t->pt.len - off < CHUNK ? t->pt.len - off : CHUNK;
    int w = SSL_write(t->ssl, t->pt.data + off, (int)n);
    if (w <= 0) {
      ERR_clear_error();
      t->state = ST_DONE;
      gw_conn_close(c, 0);
      return -1;
    }
    off += (size_t)w;
    send_records(c, t);
  }
  if (t->pt.cap > KEEP_PT)
    ipc_buf_free(&t->pt);
  else
    ipc_buf_reset(&t->pt);
  c->tp_held = 0;
  return 0;
}

static void tls_flush(struct gw_conn *c) {
  struct gw_tls_conn *t = c->tdata;
  if (t->state == ST_OPEN && t->pt.len > 0 && encrypt_pending(c, t) != 0)
    return;
  send_records(c, t);
}

static void tls_writev(struct gw_conn *c, const uv_buf_t *bufs, unsigned n) {
  struct gw_tls_conn *t = c->tdata;
  if (t->state != ST_OPEN || t->shut)
    return; /* nothing is sent before the handshake, or after close_notify */
  for (unsigned i = 0; i < n; i++)
    ipc_buf_add(&t->pt, bufs[i].base, bufs[i].len);
  if (t->pt.oom) {
    sup_log(SUP_WARN, "gateway: out of memory for a TLS answer to %s; closing", c->remote);
    gw_conn_close(c, 0);
    return;
  }
  c->tp_held = t->pt.len;
  gw_conn_tp_dirty(c); /* one SSL_write for everything of this turn */
}

/* A graceful close: what is pending, then our close_notify (once). */
static void tls_closing(struct gw_conn *c) {
  struct gw_tls_conn *t = c->tdata;
  if (t->state != ST_OPEN || t->shut)
    return;
  if (t->pt.len > 0 && encrypt_pending(c, t) != 0)
    return;
  t->shut = 1;
  SSL_shutdown(t->ssl); /* writes close_notify; the client's is not waited for */
  ERR_clear_error();
  send_records(c, t);
}

/* ---- Reading ---- */

/* Answers a client that spoke plain HTTP to the TLS port: 400 in clear
 * text, then a lingering close (its request is read and dropped, so that
 * no reset destroys the answer). */
static void plain_http(struct gw_conn *c, struct gw_tls_conn *t) {
  static const char body[] =
      "{\"error\":\"plain HTTP sent to the TLS port: use https://\",\"status\":400}\n";
  char head[256];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                   "date: %s\r\ncontent-length: %zu\r\nconnection: close\r\n\r\n",
                   gw_req_date(c->srv), sizeof(body) - 1);
  uv_buf_t v[2] = {uv_buf_init(head, (unsigned)n), uv_buf_init((char *)body, sizeof(body) - 1)};
  count(t, OUT_PLAIN_HTTP, V_UNKNOWN);
  t->state = ST_DONE;
  gw_conn_sock_writev(c, v, 2);
  c->linger = 1;
  gw_conn_close(c, 1);
}

/* The handshake failed: the alert OpenSSL wrote goes out, then the close. */
static void handshake_failed(struct gw_conn *c, struct gw_tls_conn *t) {
  int reason = ERR_GET_REASON(ERR_peek_error());
  if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_VERSION_TOO_LOW)
    count(t, OUT_VERSION, version_index(SSL_client_version(t->ssl)));
  else
    count(t, OUT_FAILED, V_UNKNOWN);
  ERR_clear_error();
  t->state = ST_DONE;
  send_records(c, t);
  gw_conn_close(c, 1);
}

/* 1 when ALPN chose HTTP/2. */
static int alpn_is_h2(const SSL *ssl) {
  const unsigned char *p;
  unsigned n;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return n == 2 && memcmp(p, "h2", 2) == 0;
}

/* Goes on with the handshake on what was read. */
static void handshake(struct gw_conn *c, struct gw_tls_conn *t) {
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->state = ST_OPEN;
    count(t, OUT_OK, version_index(SSL_version(t->ssl)));
    gw_conn_timer(c, 0, NULL);
    gw_conn_start_proto(c); /* its header timer starts now */
    if (alpn_is_h2(t->ssl) && !c->closing)
      gw_h2_start_on(c); /* before any plaintext reaches HTTP/1 */
    return;
  }
  if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ)
    return;
  handshake_failed(c, t);
}

/* Decrypts what was read and hands it to the protocol. */
static void read_plain(struct gw_conn *c, struct gw_tls_conn *t) {
  struct gw_tls_server *ts = t->ts;
  while (!c->closing && t->state == ST_OPEN) {
    int n = SSL_read(t->ssl, ts->pbuf, sizeof(ts->pbuf));
    if (n > 0) {
      c->proto->on_data(c, ts->pbuf, (size_t)n);
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ)
      break;
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN) {
      gw_conn_close(c, 1); /* the client's close_notify: ours goes back, then the close */
    } else {
      t->state = ST_DONE;
      gw_conn_close(c, 0); /* a bad record: no more of this connection */
    }
    return;
  }
  shrink_bio(t, SSL_get_rbio(t->ssl), 'r');
}

static void tls_on_read(struct gw_conn *c, const char *data, size_t len) {
  struct gw_tls_conn *t = c->tdata;
  if (t->state == ST_NEW) {
    if ((unsigned char)data[0] >= 'A' && (unsigned char)data[0] <= 'Z') {
      plain_http(c, t);
      return;
    }
    if ((unsigned char)data[0] != 0x16) {
      count(t, OUT_NOT_TLS, V_UNKNOWN);
      t->state = ST_DONE;
      gw_conn_close(c, 0);
      return;
    }
    t->state = ST_HANDSHAKE;
  }
  if (t->state == ST_DONE)
    return;
  if (BIO_write(SSL_get_rbio(t->ssl), data, (int)len) != (int)len) {
    gw_conn_close(c, 0); /* out of memory */
    return;
  }
  if (t->state == ST_HANDSHAKE)
    handshake(c, t);
  if (t->state == ST_OPEN)
    read_plain(c, t);
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    tls_flush(c); /* the handshake's records, and the answers of this read */
}

/* ---- Life cycle of a connection ---- */

static void on_handshake_timeout(uv_timer_t *timer) {
  struct gw_conn *c = gw_conn_of_timer(timer);
  struct gw_tls_conn *t = c->tdata;
  count(t, OUT_TIMEOUT, V_UNKNOWN);
  t->state = ST_DONE;
  gw_conn_close(c, 0);
}

/* A new SSL on the listener's current certificates, reading and writing
 * memory BIOs. NULL on out of memory. */
static SSL *new_ssl(struct gw_tls_server *ts) {
  SSL *ssl = SSL_new(ts->certs->v[0].ctx);
  BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
  if (ssl == NULL || r == NULL || w == NULL) {
    SSL_free(ssl);
    BIO_free(r);
    BIO_free(w);
    return NULL;
  }
  BIO_set_mem_eof_return(r, -1); /* empty means "more later", not EOF */
  BIO_set_mem_eof_return(w, -1);
  SSL_set_bio(ssl, r, w);
  SSL_set_accept_state(ssl);
  return ssl;
}

static int tls_start(struct gw_conn *c) {
  struct gw_tls_server *ts = c->srv->tls;
  if (c->srv->nconns > (size_t)c->srv->cfg->max_connections)
    return UV_EBUSY; /* over max_connections: no handshake is worth its CPU */
  struct gw_tls_conn *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return UV_ENOMEM;
  t->ts = ts;
  c->tdata = t;
  if ((t->ssl = new_ssl(ts)) == NULL)
    return UV_ENOMEM;
  t->set = gw_cert_ref(ts->certs);
  gw_conn_timer(c, (uint64_t)c->srv->cfg->header_timeout_ms, on_handshake_timeout);
  return 0;
}

static void tls_release(struct gw_conn *c) {
  struct gw_tls_conn *t = c->tdata;
  if (t == NULL)
    return;
  if (t->state != ST_OPEN)
    count(t, OUT_ABORTED, V_UNKNOWN); /* a no-op when it was counted already */
  SSL_free(t->ssl);
  gw_cert_unref(t->set);
  ipc_buf_free(&t->pt);
  free(t);
  c->tdata = NULL;
}

static const struct gw_transport tls_transport = {.name = "tls",
                                                  .scheme = "https",
                                                  .start = tls_start,
                                                  .on_read = tls_on_read,
                                                  .writev = tls_writev,
                                                  .flush = tls_flush,
                                                  .closing = tls_closing,
                                                  .release = tls_release};

/* ---- The listener ---- */

static void on_connection(uv_stream_t *l, int status) {
  struct gw_tls_server *ts = l->data;
  if (status < 0) {
    sup_log(SUP_WARN, "gateway: TLS accept failed: %s", uv_strerror(status));
    return;
  }
  gw_conn_accept(ts->srv, l, &tls_transport);
}

static int mod_listen(struct gw_tls_server *ts) {
  int rc;
  if (ts == NULL || ts->listening || !ts->on)
    return 0;
  ts->listener = gw_listen_open(ts->srv->loop, sup_host_listen_fds(ts->srv->host), &ts->addr,
                                on_connection, ts, &rc);
  ts->listening = ts->listener != NULL;
  if (rc < 0)
    sup_log(SUP_ERROR, "gateway: TLS listen on %s:%d failed: %s", ts->at.host, ts->at.port,
            uv_err_name(rc));
  return rc;
}

static int mod_sockname(struct gw_tls_server *ts, struct sockaddr_storage *ss) {
  int len = sizeof(*ss);
  if (ts == NULL || !ts->listening)
    return UV_EINVAL;
  return uv_tcp_getsockname(ts->listener, (struct sockaddr *)ss, &len);
}

static void mod_unlisten(struct gw_tls_server *ts) {
  if (ts == NULL || !ts->listening)
    return;
  ts->listening = 0;
  gw_listen_close(ts->listener);
  ts->listener = NULL;
}

/* Loads t's certificates, logging warnings (and errors, after what). NULL
 * on failure; errs gets the reasons when not NULL. */
static struct gw_cert_set *load(const struct cfg_tls *t, const char *what,
                                struct cfg_errors *out_errs) {
  struct cfg_errors errs, warns;
  struct gw_cert_set *s = NULL;
  cfg_errors_init(&errs);
  cfg_errors_init(&warns);
  gw_cert_load(t, time(NULL), &s, &errs, &warns);
  for (size_t i = 0; i < warns.count; i++)
    sup_log(SUP_WARN, "gateway: %s", warns.lines[i]);
  for (size_t i = 0; i < errs.count; i++) {
    sup_log(SUP_ERROR, "gateway: %s: %s", what, errs.lines[i]);
    if (out_errs)
      cfg_errors_add(out_errs, "%s", errs.lines[i]);
  }
  cfg_errors_free(&errs);
  cfg_errors_free(&warns);
  return s;
}

/* ts->addr and ts->at from l (the host copied; the old copy is the
 * caller's to free). Returns 0, or -1 with nothing changed. */
static int set_at(struct gw_tls_server *ts, const struct cfg_listen *l) {
  struct sockaddr_storage next;
  char *host = strdup(l->host);
  if (host == NULL || gw_listen_addr(l->host, l->port, l->ipv6, &next) != 0) {
    free(host);
    return -1;
  }
  ts->addr = next;
  ts->at = (struct cfg_listen){.host = host, .port = l->port, .ipv6 = l->ipv6};
  return 0;
}

/* A listener of srv's, off: no address, no certificates, not listening. */
static int mod_add(struct gw_server *srv, struct gw_tls_server **out) {
  if ((*out = calloc(1, sizeof(**out))) == NULL) {
    sup_log(SUP_ERROR, "gateway: out of memory for the TLS listener");
    return -1;
  }
  (*out)->srv = srv;
  return 0;
}

/* "gateway: TLS listening on ADDR (N certificates, from V)" and how. */
static void log_listening(const struct gw_tls_server *ts, const struct cfg_tls *t,
                          const char *how) {
  sup_log(SUP_INFO, "gateway: TLS listening on %s%s%s:%d (%zu certificate%s, from %s)%s",
          t->listen.ipv6 ? "[" : "", t->listen.host, t->listen.ipv6 ? "]" : "", t->listen.port,
          ts->certs->n, ts->certs->n == 1 ? "" : "s",
          t->min_version == CFG_TLS_1_3 ? "TLSv1.3" : "TLSv1.2", how);
}

static int mod_start(struct gw_server *srv, struct gw_tls_server **out) {
  const struct cfg_tls *t = &srv->cfg->tls;
  *out = NULL;
  if (!t->enabled)
    return 0;
  if (mod_add(srv, out) != 0)
    return -1;
  struct gw_tls_server *ts = *out; /* freed by the caller's gw_server_free */
  int rc = set_at(ts, &t->listen);
  if (rc == 0 && (ts->certs = load(t, "TLS certificates not loaded", NULL)) == NULL)
    rc = -1;
  ts->on = ts->used = 1;
  if (rc == 0)
    rc = mod_listen(ts);
  if (rc < 0) {
    mod_unlisten(ts);
    return -1;
  }
  log_listening(ts, t, "");
  return 0;
}

/* ---- Reload ---- */

static int mod_reload_prepare(struct gw_tls_server *ts, const struct cfg *nc,
                              struct cfg_errors *errs) {
  if (ts == NULL || !nc->gateway.tls.enabled)
    return 0;
  gw_cert_unref(ts->next); /* a reload that failed after its step one */
  ts->next = load(&nc->gateway.tls, "reload: keeping the certificates in use", errs);
  return ts->next ? 0 : -1;
}

/* A reload moved gateway.tls.listen to l: the listener goes there, or,
 * when it cannot, stays where it was (logged). Open connections go on.
 * While the gateway drains or stops, only the address is noted. */
static void relisten(struct gw_tls_server *ts, const struct cfg_listen *l) {
  struct sockaddr_storage old = ts->addr;
  struct cfg_listen old_at = ts->at;
  int was = ts->listening;
  if (set_at(ts, l) != 0) {
    sup_log(SUP_ERROR, "gateway: cannot move the TLS listener to %s:%d", l->host, l->port);
    return;
  }
  mod_unlisten(ts);
  if (!was || ts->srv->stopping || mod_listen(ts) == 0) { /* a drain's end listens there */
    free(old_at.host);
    if (was && !ts->srv->stopping)
      sup_log(SUP_INFO, "gateway: TLS listening on %s%s%s:%d (moved by the reload)",
              l->ipv6 ? "[" : "", l->host, l->ipv6 ? "]" : "", l->port);
    return;
  }
  free(ts->at.host); /* mod_listen said why */
  ts->addr = old;
  ts->at = old_at;
  sup_log(SUP_ERROR, "gateway: the TLS listener stays on %s:%d", ts->at.host, ts->at.port);
  if (mod_listen(ts) != 0)
    sup_log(SUP_ERROR, "gateway: cannot listen for TLS where it was either; not accepting");
}

/* A reload added gateway.tls (or gave it back): the listener takes t's
 * address and listens there, unless the gateway drains (its end listens)
 * or stops. When it cannot listen, TLS stays off until a later reload. */
static void turn_on(struct gw_tls_server *ts, const struct cfg_tls *t) {
  char *old_host = ts->at.host;
  if (set_at(ts, &t->listen) != 0) {
    sup_log(SUP_ERROR, "gateway: cannot listen for TLS on %s:%d", t->listen.host, t->listen.port);
    return;
  }
  free(old_host);
  ts->on = ts->used = 1;
  if (ts->srv->stopping)
    return;
  if (ts->srv->draining && !ts->srv->listening) {
    sup_log(SUP_INFO, "gateway: TLS listens on %s:%d once the drain ends", ts->at.host,
            ts->at.port);
    return;
  }
  if (mod_listen(ts) != 0) {
    ts->on = 0;
    sup_log(SUP_ERROR, "gateway: gateway.tls is not in force; the next reload tries again");
    return;
  }
  log_listening(ts, t, " (added by the reload)");
}

/* A reload removed gateway.tls: no more TLS connections are accepted;
 * those open go on. */
static void turn_off(struct gw_tls_server *ts) {
  if (!ts->on)
    return;
  mod_unlisten(ts);
  ts->on = 0;
  sup_log(SUP_INFO,
          "gateway: TLS listener on %s:%d closed by the reload (connections open on "
          "it go on)",
          ts->at.host, ts->at.port);
}

static void mod_reload_commit(struct gw_tls_server *ts, const struct cfg *nc) {
  const struct cfg_tls *t = &nc->gateway.tls;
  if (ts == NULL)
    return;
  if (!t->enabled) {
    turn_off(ts);
    return;
  }
  if (ts->next != NULL) {
    gw_cert_unref(ts->certs); /* connections that use it hold their own reference */
    ts->certs = ts->next;
    ts->next = NULL;
    if (ts->on)
      sup_log(SUP_INFO, "gateway: TLS certificates reloaded (%zu); new handshakes use them",
              ts->certs->n);
  }
  if (!ts->on)
    turn_on(ts, t);
  else if (t->listen.port != ts->at.port || strcmp(t->listen.host, ts->at.host) != 0)
    relisten(ts, &t->listen);
}

static void mod_free(struct gw_tls_server *ts) {
  if (ts == NULL)
    return;
  gw_cert_unref(ts->certs);
  gw_cert_unref(ts->next);
  free(ts->at.host);
  free(ts);
}

/* ---- The module's table, its one exported symbol ---- */

GW_TLS_MOD_EXPORT const struct gw_tls_mod gw_tls_module = {.abi = GW_TLS_MOD_ABI,
                                                           .version = MUSTER_VERSION,
                                                           .conn_size = sizeof(struct gw_conn),
                                                           .server_size = sizeof(struct gw_server),
                                                           .start = mod_start,
                                                           .add = mod_add,
                                                           .listen = mod_listen,
                                                           .unlisten = mod_unlisten,
                                                           .sockname = mod_sockname,
                                                           .reload_prepare = mod_reload_prepare,
                                                           .reload_commit = mod_reload_commit,
                                                           .render_metrics = mod_render_metrics,
                                                           .free = mod_free,
                                                           .check = gw_cert_check};
