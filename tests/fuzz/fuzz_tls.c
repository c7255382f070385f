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
#include "fuzz_client.h"
#include "fuzz_host.h"
#include "gw.h"
#include "gw_server.h"
#include "gw_tls.h"
#include "sup_host.h"
#include "sup_log.h"

static struct sup_host host;
static struct gw_server *gateway;
static struct sockaddr_storage tls_addr;
static char dir[] = "/tmp/muster-fuzz-tls-XXXXXX";
static SSL_CTX *client_ctx;

/* ---- Setup, once per process ---- */

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
  fuzz_dir_make(dir);
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
  struct cfg *cfg = fuzz_cfg(text);
  cfg->gateway.listen.port = 0;
  cfg->gateway.tls.listen.port = 0;
  loop = uv_default_loop();
  fuzz_host_init(&host, loop, cfg);
  gateway = gw_server_start(&host);
  if (gw_server_failed(gateway) || gw_tls_sockname(gateway->tls, &tls_addr) != 0)
    abort();
  uv_timer_init(loop, &guard);
  client_ctx = SSL_CTX_new(TLS_client_method()); /* it verifies nothing: a fuzz client */
  if (client_ctx == NULL)
    abort();
}

/* ---- The client (fuzz_client.h's, with an SSL) ---- */

static SSL *ssl_of(const struct client *cl) {
  return cl->user;
}

/* The server's bytes go into the client SSL's read BIO too. */
static void on_records(struct client *cl, const char *p, size_t n) {
  if (ssl_of(cl))
    BIO_write(SSL_get_rbio(ssl_of(cl)), p, (int)n);
}

/* Sends what the client SSL wrote into its write BIO. */
static void send_records(struct client *cl) {
  char *p;
  BIO *w = SSL_get_wbio(ssl_of(cl));
  long n = BIO_get_mem_data(w, &p);
  if (n > 0)
    send_bytes(cl, p, (size_t)n);
  (void)BIO_reset(w);
}

/* Runs the client's handshake through the loop. Returns 1 when done. */
static int handshake(struct client *cl) {
  SSL *ssl = SSL_new(client_ctx);
  BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
  if (ssl == NULL || r == NULL || w == NULL)
    abort();
  cl->user = ssl;
  cl->on_bytes = on_records;
  BIO_set_mem_eof_return(r, -1);
  SSL_set_bio(ssl, r, w);
  SSL_set_tlsext_host_name(ssl, "fuzz.test");
  SSL_set_connect_state(ssl);
  for (;;) {
    int rc = SSL_do_handshake(ssl);
    send_records(cl);
    if (rc == 1)
      return 1;
    if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ || cl->eof || hung)
      return 0;
    uv_run(loop, UV_RUN_ONCE);
  }
}

/* ---- The modes ---- */

/* Raw bytes in pieces of `piece`; checks what came back. */
static void raw(const uint8_t *data, size_t size, size_t piece) {
  struct client cl;
  client_open(&cl, (const struct sockaddr *)&tls_addr);
  send_pieces(&cl, data, size, piece);
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
  client_open(&cl, (const struct sockaddr *)&tls_addr);
  FUZZ_CHECK(handshake(&cl), "the handshake with the TLS listener did not finish");
  if (raw_after) {
    send_bytes(&cl, (const char *)data, size);
  } else if (size > 0) {
    FUZZ_CHECK(SSL_write(ssl_of(&cl), data, (int)size) == (int)size, "SSL_write failed");
    send_records(&cl);
  }
  if (!raw_after && !cl.eof) {
    SSL_shutdown(ssl_of(&cl)); /* our close_notify */
    send_records(&cl);
  }
  client_finish(&cl);
  int n;
  while (!raw_after &&
         (n = SSL_read(ssl_of(&cl), plain + nplain, (int)(sizeof(plain) - nplain))) > 0)
    nplain += (size_t)n;
  if (nplain > 0)
    FUZZ_CHECK(nplain >= 9 && memcmp(plain, "HTTP/1.1 ", 9) == 0,
               "a decrypted answer that is not HTTP/1.1 (%zu bytes)", nplain);
  ERR_clear_error();
  SSL_free(ssl_of(&cl));
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
