/* fuzz_tls — the gateway's TLS input path: bytes into a real TLS listener.
 *
 * A real gateway (gw_server with gateway.tls: gw_tls, gw_cert, gw_h1
 * behind them) runs in-process on one libuv loop, on loopback ports the
 * kernel picks, with a self-signed P-256 certificate made at setup with
 * OpenSSL's API (written to a temp dir: gw_cert reads files). Its service
 * is never started: a request gets 404 or 503. The client is a uv_tcp_t
 * on the same loop. The input's first byte picks a mode:
 *
 * - raw (even): the rest goes to the TLS port as it is, whole, then cut in
 *   pieces, then our EOF. What comes back is nothing, TLS records (an
 *   alert, a ServerHello: first byte 0x15 or 0x16), or, when the first
 *   byte is a capital letter, the plain-HTTP 400.
 * - in a session (odd): a client SSL on memory BIOs finishes a handshake
 *   through the loop first; then the rest goes either encrypted as
 *   application data (the HTTP/1 parser behind TLS: every decrypted answer
 *   is HTTP/1.1) or, with bit 1 set, raw, as records of an established
 *   session (a record that does not decrypt: the server closes).
 *
 * Every time: the server closes the connection within GUARD_MS of our
 * EOF (nothing hangs), nothing crashes or leaks (LSan), and the gateway
 * holds no connection afterwards. */
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cfg.h"
#include "fuzz.h"
#include "gw.h"
#include "gw_server.h"
#include "gw_tls.h"
#include "sup_host.h"
#include "sup_log.h"

#define GUARD_MS 5000 /* the server must close within this after our EOF */

static uv_loop_t *loop;
static struct sup_host host;
static struct gw_server *gateway;
static struct sockaddr_storage tls_addr;
static uv_timer_t guard;
static int hung;
static char dir[] = "/tmp/muster-fuzz-tls-XXXXXX";
static SSL_CTX *client_ctx;

/* ---- Setup, once per process ---- */

static void remove_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[sizeof(dir) + 300];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(dir);
}

/* Writes a self-signed P-256 certificate for fuzz.test to dir/c.pem and
 * its key to dir/k.pem. */
static void make_cert(void) {
  char path[sizeof(dir) + 16];
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  if (k == NULL || x == NULL)
    abort();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
  X509_set_pubkey(x, k);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)"fuzz.test", -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  if (X509_sign(x, k, EVP_sha256()) == 0)
    abort();
  snprintf(path, sizeof(path), "%s/c.pem", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL || PEM_write_X509(f, x) != 1)
    abort();
  fclose(f);
  snprintf(path, sizeof(path), "%s/k.pem", dir);
  f = fopen(path, "w");
  if (f == NULL || PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
    abort();
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(k);
}

/* The host and its gateway with a TLS listener, as fuzz_http's. */
static void setup(void) {
  char text[2048];
  struct sigaction saved[4];
  int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
  if (mkdtemp(dir) == NULL)
    abort();
  atexit(remove_dir);
  make_cert();
  snprintf(
      text, sizeof(text),
      "{\"gateway\": {\"listen\": \"127.0.0.1:1\", \"max_header_bytes\": 1024,"
      " \"max_body_bytes\": 512, \"header_timeout_ms\": 2000, \"access_log\": null,"
      " \"tls\": {\"listen\": \"127.0.0.1:2\", \"certificates\": "
      "[{\"cert\": \"%s/c.pem\", \"key\": \"%s/k.pem\"}]}},"
      " \"control\": {\"socket\": \"%s/ctl.sock\"}, \"logs\": {\"dir\": \"%s\"},"
      " \"services\": [{\"name\": \"s\", \"command\": [\"/bin/true\"], \"routes\": [\"/s\"]}]}",
      dir, dir, dir, dir);
  struct cfg_env env = {.file = "fuzz.json", .dir = "/tmp", .path = "/usr/bin:/bin"};
  struct cfg *cfg = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_parse(text, strlen(text), &env, &cfg, &errs) != 0) {
    cfg_errors_print(&errs, stderr);
    abort();
  }
  cfg_errors_free(&errs);
  cfg->gateway.listen.port = 0;
  cfg->gateway.tls.listen.port = 0;
  sup_log_set_level(SUP_ERROR);
  loop = uv_default_loop();
  for (int i = 0; i < 4; i++) /* the host takes SIGINT and friends: give them back */
    sigaction(sigs[i], NULL, &saved[i]);
  if (sup_host_init(&host, loop, cfg, "fuzz.json", NULL) != 0)
    abort();
  uv_signal_stop(&host.sig_term);
  uv_signal_stop(&host.sig_int);
  uv_signal_stop(&host.sig_hup);
  uv_signal_stop(&host.sig_usr1);
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &saved[i], NULL);
  gateway = gw_server_start(&host);
  if (gw_server_failed(gateway) || gw_tls_sockname(gateway->tls, &tls_addr) != 0)
    abort();
  uv_timer_init(loop, &guard);
  client_ctx = SSL_CTX_new(TLS_client_method()); /* it verifies nothing: a fuzz client */
  if (client_ctx == NULL)
    abort();
}

/* ---- The client ---- */

struct client {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_shutdown_t sreq;
  struct ipc_buf got; /* every byte the server sent (records) */
  int connected;      /* 1 connected, -1 failed */
  int eof;            /* the server closed (or reset) */
  int closed;         /* our handle is closed */
  SSL *ssl;           /* in a session: the client's TLS */
};

static void on_guard(uv_timer_t *t) {
  (void)t;
  hung = 1;
}

static void on_connect(uv_connect_t *req, int status) {
  struct client *cl = req->handle->data;
  cl->connected = status == 0 ? 1 : -1;
}

static void on_client_closed(uv_handle_t *h) {
  ((struct client *)h->data)->closed = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char rbuf[65536];
  (void)h, (void)hint;
  buf->base = rbuf;
  buf->len = sizeof(rbuf);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct client *cl = s->data;
  if (nread > 0) {
    ipc_buf_add(&cl->got, buf->base, (size_t)nread);
    if (cl->ssl)
      BIO_write(SSL_get_rbio(cl->ssl), buf->base, (int)nread);
  } else if (nread < 0 && !cl->eof) {
    cl->eof = 1;
    uv_close((uv_handle_t *)s, on_client_closed);
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req, (void)status;
}

/* Writes p[0..n) unless the server has closed. */
static void send_bytes(struct client *cl, const char *p, size_t n) {
  while (n > 0 && !cl->eof && !hung) {
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&cl->tcp, &b, 1);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w == UV_EAGAIN) {
      uv_run(loop, UV_RUN_ONCE);
    } else {
      return;
    }
  }
}

/* Sends what the client SSL wrote into its write BIO. */
static void send_records(struct client *cl) {
  char *p;
  BIO *w = SSL_get_wbio(cl->ssl);
  long n = BIO_get_mem_data(w, &p);
  if (n > 0)
    send_bytes(cl, p, (size_t)n);
  (void)BIO_reset(w);
}

/* Runs the client's handshake through the loop. Returns 1 when done. */
static int handshake(struct client *cl) {
  cl->ssl = SSL_new(client_ctx);
  BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
  if (cl->ssl == NULL || r == NULL || w == NULL)
    abort();
  BIO_set_mem_eof_return(r, -1);
  SSL_set_bio(cl->ssl, r, w);
  SSL_set_tlsext_host_name(cl->ssl, "fuzz.test");
  SSL_set_connect_state(cl->ssl);
  for (;;) {
    int rc = SSL_do_handshake(cl->ssl);
    send_records(cl);
    if (rc == 1)
      return 1;
    if (SSL_get_error(cl->ssl, rc) != SSL_ERROR_WANT_READ || cl->eof || hung)
      return 0;
    uv_run(loop, UV_RUN_ONCE);
  }
}

/* Connects to the TLS port (and starts reading). */
static void client_open(struct client *cl) {
  memset(cl, 0, sizeof(*cl));
  ipc_buf_init(&cl->got);
  hung = 0;
  uv_timer_start(&guard, on_guard, GUARD_MS, 0);
  uv_tcp_init(loop, &cl->tcp);
  cl->tcp.data = cl;
  uv_tcp_connect(&cl->creq, &cl->tcp, (const struct sockaddr *)&tls_addr, on_connect);
  while (cl->connected == 0 && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(cl->connected == 1, "cannot connect to the TLS listener");
  uv_read_start((uv_stream_t *)&cl->tcp, on_alloc, on_client_read);
}

/* Our EOF, then waiting for the server's close. */
static void client_finish(struct client *cl) {
  if (!cl->eof)
    uv_shutdown(&cl->sreq, (uv_stream_t *)&cl->tcp, on_shutdown);
  while (!cl->closed && !hung)
    uv_run(loop, UV_RUN_ONCE);
  FUZZ_CHECK(!hung, "the server did not close within %d ms of the client's EOF", GUARD_MS);
  uv_timer_stop(&guard);
  uv_run(loop, UV_RUN_NOWAIT); /* the server's close callbacks */
}

/* ---- The modes ---- */

/* Raw bytes in pieces of `piece`; checks what came back. */
static void raw(const uint8_t *data, size_t size, size_t piece) {
  struct client cl;
  client_open(&cl);
  for (size_t off = 0; off < size && !cl.eof; off += piece) {
    send_bytes(&cl, (const char *)data + off, size - off < piece ? size - off : piece);
    if (piece < size)
      uv_run(loop, UV_RUN_NOWAIT);
  }
  client_finish(&cl);
  const unsigned char *g = (const unsigned char *)cl.got.data;
  if (cl.got.len > 0 && size > 0 && data[0] >= 'A' && data[0] <= 'Z')
    FUZZ_CHECK(cl.got.len > 13 && memcmp(g, "HTTP/1.1 400 ", 13) == 0,
               "plain HTTP got %zu bytes that are not the 400", cl.got.len);
  else if (cl.got.len > 0)
    FUZZ_CHECK(g[0] == 0x15 || g[0] == 0x16, "not a TLS record: first byte 0x%02x", g[0]);
  ipc_buf_free(&cl.got);
}

/* A handshake, then data encrypted (or raw when raw_after); checks that
 * every decrypted answer is HTTP/1.1. */
static void session(const uint8_t *data, size_t size, int raw_after) {
  struct client cl;
  char plain[65536];
  size_t nplain = 0;
  client_open(&cl);
  FUZZ_CHECK(handshake(&cl), "the handshake with the TLS listener did not finish");
  if (raw_after) {
    send_bytes(&cl, (const char *)data, size);
  } else if (size > 0) {
    FUZZ_CHECK(SSL_write(cl.ssl, data, (int)size) == (int)size, "SSL_write failed");
    send_records(&cl);
  }
  if (!raw_after && !cl.eof) {
    SSL_shutdown(cl.ssl); /* our close_notify */
    send_records(&cl);
  }
  client_finish(&cl);
  int n;
  while (!raw_after && (n = SSL_read(cl.ssl, plain + nplain, (int)(sizeof(plain) - nplain))) > 0)
    nplain += (size_t)n;
  if (nplain > 0)
    FUZZ_CHECK(nplain >= 9 && memcmp(plain, "HTTP/1.1 ", 9) == 0,
               "a decrypted answer that is not HTTP/1.1 (%zu bytes)", nplain);
  ERR_clear_error();
  SSL_free(cl.ssl);
  ipc_buf_free(&cl.got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (loop == NULL)
    setup();
  if (size == 0)
    return 0;
  uint8_t mode = data[0];
  data++, size--;
  if (size > 16384)
    size = 16384; /* one TLS record's worth of plaintext: enough, and fast */
  if ((mode & 1) == 0) {
    size_t piece = fuzz_hash(data, size) % 64 + 1;
    raw(data, size, size ? size : 1);
    raw(data, size, piece);
  } else {
    session(data, size, (mode & 2) != 0);
  }
  FUZZ_CHECK(gateway->nconns == 0, "%zu connections left open", gateway->nconns);
  return 0;
}
