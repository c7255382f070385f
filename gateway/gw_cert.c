/* gw_cert — certificates of the TLS listener: names, SNI, loading and
 * checking pairs. See gw_cert.h. */
#include "gw_cert.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_NAMES 1024 /* names kept per certificate */

/* TLS 1.2 suites: OpenSSL's default list without the CBC ones (LUCKY13,
 * which testssl.sh flags) and without RSA key exchange: forward secrecy
 * and AEAD only. TLS 1.3 keeps OpenSSL's default suites, all AEAD. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"

/* ---- Names (pure) ---- */

/* 1 when a[0..n) and b[0..n) are the same ASCII letters, ignoring case. */
static int same_ci(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
      return 0;
  return 1;
}

/* Labels of name[0..n) (n > 0, no empty label), or 0 when one is empty. */
static size_t labels(const char *name, size_t n) {
  size_t k = 1;
  if (n == 0 || name[0] == '.' || name[n - 1] == '.')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (name[i] == '.') {
      if (name[i + 1] == '.')
        return 0;
      k++;
    }
  return k;
}

int gw_cert_name_match(const char *pattern, const char *host) {
  size_t pn = strlen(pattern), hn = strlen(host);
  if (hn > 0 && host[hn - 1] == '.')
    hn--; /* the absolute form names the same host */
  if (pn == 0 || hn == 0 || labels(host, hn) == 0 || memchr(host, '*', hn) != NULL)
    return 0;
  if (pattern[0] != '*')
    return memchr(pattern, '*', pn) == NULL && pn == hn && same_ci(pattern, host, hn);
  /* "*.rest": the wildcard is the whole left-most label, once. */
  const char *rest = pattern + 1;
  size_t rn = pn - 1;
  if (rn < 2 || rest[0] != '.' || memchr(rest, '*', rn) != NULL || labels(rest + 1, rn - 1) < 2)
    return 0;
  const char *dot = memchr(host, '.', hn);
  if (dot == NULL || dot == host) /* the wildcard stands for one non-empty label */
    return 0;
  size_t tail = hn - (size_t)(dot - host);
  return tail == rn && same_ci(dot, rest, rn);
}

size_t gw_cert_pick(const struct gw_cert_names *const *names, size_t n, const char *sni) {
  if (sni == NULL || *sni == '\0')
    return 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < names[i]->n; k++)
      if (gw_cert_name_match(names[i]->v[k], sni))
        return i;
  return 0;
}

/* ---- Reading a pair ---- */

/* The reason of the last OpenSSL error (the queue emptied), or fallback. */
static const char *ssl_reason(const char *fallback) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  ERR_clear_error();
  return r ? r : fallback;
}

/* Opens path for reading as a BIO; NULL with "PATH: cannot read: why"
 * added to errs at field (the schema path of the key). */
static BIO *open_file(const char *field, const char *path, struct cfg_errors *errs) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    cfg_errors_add(errs, "%s: %s: cannot read: %s", field, path, strerror(errno));
    return NULL;
  }
  BIO *b = BIO_new_fp(f, BIO_CLOSE);
  if (b == NULL) {
    fclose(f);
    cfg_errors_add(errs, "%s: %s: out of memory", field, path);
  }
  return b;
}

/* A passphrase is never asked for: an encrypted key does not load. */
static int no_passphrase(char *buf, int size, int rw, void *u) {
  (void)buf, (void)size, (void)rw, (void)u;
  return 0;
}

/* Reads the private key at path. NULL with the reason in errs. */
static EVP_PKEY *read_key(const char *field, const char *path, struct cfg_errors *errs) {
  BIO *b = open_file(field, path, errs);
  if (b == NULL)
    return NULL;
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
  BIO_free(b);
  if (k == NULL)
    cfg_errors_add(errs, "%s: %s: no PEM private key in it (an encrypted key cannot be used): %s",
                   field, path, ssl_reason("unreadable"));
  return k;
}

/* Adds the name s[0..n) to names, lower-case (when it is printable). */
static void add_name(struct gw_cert_names *names, const unsigned char *s, int n) {
  if (n <= 0 || names->n >= MAX_NAMES || memchr(s, '\0', (size_t)n) != NULL)
    return;
  char **v = realloc(names->v, (names->n + 1) * sizeof(*v));
  char *c = malloc((size_t)n + 1);
  if (v == NULL || c == NULL) {
    free(c);
    names->v = v ? v : names->v;
    return;
  }
  names->v = v;
  for (int i = 0; i < n; i++)
    c[i] = (char)tolower(s[i]);
  c[n] = '\0';
  names->v[names->n++] = c;
}

/* The DNS names of leaf: its SAN dNSName entries, else its subject CN
 * (RFC 6125 §6.4.4). */
static void read_names(X509 *leaf, struct gw_cert_names *names) {
  GENERAL_NAMES *san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
  for (int i = 0; san && i < sk_GENERAL_NAME_num(san); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
    if (g->type == GEN_DNS)
      add_name(names, ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName));
  }
  GENERAL_NAMES_free(san);
  if (names->n > 0)
    return;
  X509_NAME *subj = X509_get_subject_name(leaf);
  int at = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
  ASN1_STRING *cn = at >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, at)) : NULL;
  unsigned char *utf8 = NULL;
  int n = cn ? ASN1_STRING_to_UTF8(&utf8, cn) : -1;
  if (n > 0)
    add_name(names, utf8, n);
  OPENSSL_free(utf8);
}

/* The leaf's expiry as a time_t (0 when it cannot be read). */
static time_t not_after(X509 *leaf) {
  struct tm tm;
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1)
    return 0;
  return timegm(&tm);
}

/* Checks the validity dates of leaf against now: expired or not yet
 * valid is an error, expiring soon a warning. Returns 0 or -1. */
static int check_dates(const char *field, const char *path, X509 *leaf, time_t now,
                       struct cfg_errors *errs, struct cfg_errors *warns) {
  time_t end = not_after(leaf);
  char when[32];
  struct tm tm;
  gmtime_r(&end, &tm);
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
  if (X509_cmp_time(X509_get0_notAfter(leaf), &now) <= 0) {
    cfg_errors_add(errs, "%s: %s: the certificate expired on %s", field, path, when);
    return -1;
  }
  if (X509_cmp_time(X509_get0_notBefore(leaf), &now) > 0) {
    cfg_errors_add(errs, "%s: %s: the certificate is not valid yet", field, path);
    return -1;
  }
  if (end - now < (time_t)GW_CERT_WARN_DAYS * 86400)
    cfg_errors_add(warns, "%s: %s: the certificate expires in %lld days, on %s", field, path,
                   (long long)((end - now) / 86400), when);
  return 0;
}

/* ---- The TLS settings of a context ---- */

/* ALPN: h2 whenever the client offers it and tls.http2 is on (arg is
 * non-NULL), else http/1.1 (SPEC §13). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg) {
  static const unsigned char both[] = "\x02h2\x08http/1.1";
  const unsigned char *ours = arg ? both : both + 3;
  unsigned ourlen = arg ? sizeof(both) - 1 : sizeof(both) - 4;
  (void)ssl;
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, ours, ourlen, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK; /* none in common: go on without ALPN */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* SNI: the handshake moves to the context of the certificate whose names
 * match (the first one already is the connection's). */
static int on_servername(SSL *ssl, int *alert, void *arg) {
  struct gw_cert_set *set = arg;
  const struct gw_cert_names *names[64];
  size_t n = set->n < 64 ? set->n : 64;
  (void)alert;
  for (size_t i = 0; i < n; i++)
    names[i] = &set->v[i].names;
  size_t k = gw_cert_pick(names, n, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
  if (k != 0 && SSL_set_SSL_CTX(ssl, set->v[k].ctx) == NULL)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

/* A server context with muster's settings, or NULL. */
static SSL_CTX *new_ctx(const struct cfg_tls *t) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL)
    return NULL;
  int min = t->min_version == CFG_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
      SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS); /* idle connections hold no record buffers */
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"muster", 6);
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, t->http2 ? (void *)ctx : NULL); /* a flag */
  return ctx;
}

/* Loads pair i of t into c. Returns 0 or -1 (errors added). */
static int load_pair(const struct cfg_tls *t, size_t i, time_t now, struct gw_cert *c,
                     struct cfg_errors *errs, struct cfg_errors *warns) {
  const struct cfg_tls_cert *p = &t->certs[i];
  char cf[96], kf[96];
  snprintf(cf, sizeof(cf), "gateway.tls.certificates[%zu].cert", i);
  snprintf(kf, sizeof(kf), "gateway.tls.certificates[%zu].key", i);
  BIO *b = open_file(cf, p->cert, errs);
  EVP_PKEY *key = read_key(kf, p->key, errs);
  int rc = -1;
  if (b == NULL || key == NULL)
    goto out;
  BIO_free(b);
  b = NULL;
  if ((c->ctx = new_ctx(t)) == NULL) {
    cfg_errors_add(errs, "%s: out of memory", cf);
    goto out;
  }
  if (SSL_CTX_use_certificate_chain_file(c->ctx, p->cert) != 1) {
    cfg_errors_add(errs, "%s: %s: no PEM certificate (chain) in it: %s", cf, p->cert,
                   ssl_reason("unreadable"));
    goto out;
  }
  X509 *leaf = SSL_CTX_get0_certificate(c->ctx);
  if (X509_check_private_key(leaf, key) != 1) {
    ERR_clear_error();
    cfg_errors_add(errs, "%s: %s: the key does not match the certificate in %s", kf, p->key,
                   p->cert);
    goto out;
  }
  if (SSL_CTX_use_PrivateKey(c->ctx, key) != 1) {
    cfg_errors_add(errs, "%s: %s: %s", kf, p->key, ssl_reason("the key cannot be used"));
    goto out;
  }
  if (check_dates(cf, p->cert, leaf, now, errs, warns) != 0)
    goto out;
  read_names(leaf, &c->names);
  c->not_after = not_after(leaf);
  rc = 0;
out:
  BIO_free(b);
  EVP_PKEY_free(key);
  return rc;
}

/* ---- Sets ---- */

static void set_free(struct gw_cert_set *s) {
  for (size_t i = 0; i < s->n; i++) {
    SSL_CTX_free(s->v[i].ctx);
    for (size_t k = 0; k < s->v[i].names.n; k++)
      free(s->v[i].names.v[k]);
    free(s->v[i].names.v);
  }
  free(s->v);
  free(s);
}

int gw_cert_load(const struct cfg_tls *t, time_t now, struct gw_cert_set **out,
                 struct cfg_errors *errs, struct cfg_errors *warns) {
  struct gw_cert_set *s = calloc(1, sizeof(*s));
  size_t before = errs->count;
  *out = NULL;
  if (s == NULL || (s->v = calloc(t->ncerts ? t->ncerts : 1, sizeof(*s->v))) == NULL) {
    free(s);
    cfg_errors_add(errs, "gateway.tls: out of memory");
    return -1;
  }
  s->refs = 1;
  s->n = t->ncerts;
  for (size_t i = 0; i < t->ncerts; i++)
    load_pair(t, i, now, &s->v[i], errs, warns);
  if (errs->count != before || errs->oom || s->n == 0) {
    if (s->n == 0)
      cfg_errors_add(errs, "gateway.tls.certificates: none");
    set_free(s);
    return -1;
  }
  SSL_CTX_set_tlsext_servername_callback(s->v[0].ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(s->v[0].ctx, s);
  *out = s;
  return 0;
}

struct gw_cert_set *gw_cert_ref(struct gw_cert_set *s) {
  if (s)
    s->refs++;
  return s;
}

void gw_cert_unref(struct gw_cert_set *s) {
  if (s && --s->refs == 0)
    set_free(s);
}

int gw_cert_check(const struct cfg *c, FILE *f) {
  struct cfg_errors errs, warns;
  struct gw_cert_set *s = NULL;
  if (!c->gateway.tls.enabled)
    return 0;
  cfg_errors_init(&errs);
  cfg_errors_init(&warns);
  int rc = gw_cert_load(&c->gateway.tls, time(NULL), &s, &errs, &warns);
  for (size_t i = 0; i < warns.count; i++)
    fprintf(f, "warning: %s\n", warns.lines[i]);
  cfg_errors_print(&errs, f);
  gw_cert_unref(s);
  cfg_errors_free(&errs);
  cfg_errors_free(&warns);
  return rc;
}
