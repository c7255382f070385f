/* gw_cert — the certificates of the TLS listener (SPEC §13): loading each
 * pair of gateway.tls.certificates into an OpenSSL context of its own
 * (the cert file may hold the chain after the leaf), checking it (a
 * missing or unreadable file, a key that does not match, an expired
 * certificate: errors; one expiring within 14 days: a warning), the names
 * each one serves, and the SNI choice among them.
 *
 * A loaded set is reference-counted: the listener holds the one new
 * handshakes use, each TLS connection holds the one it started with, so a
 * reload that swaps the set leaves established connections on theirs.
 *
 * gw_cert_name_match() and gw_cert_pick() are pure (no OpenSSL). */
#ifndef MUSTER_GW_CERT_H
#define MUSTER_GW_CERT_H

#include <stddef.h>
#include <time.h>

#include "cfg.h"

typedef struct ssl_ctx_st SSL_CTX;

#define GW_CERT_WARN_DAYS 14 /* expiring within this many days: a warning */

/* The names one certificate serves. */
struct gw_cert_names {
  char **v; /* lower-case DNS names (SAN dNSName, else the subject CN), owned */
  size_t n;
};

/* One loaded pair. */
struct gw_cert {
  SSL_CTX *ctx;               /* the pair with the listener's settings; owned */
  struct gw_cert_names names; /* what SNI matches against */
  time_t not_after;           /* the leaf's expiry */
};

/* The certificates of one load (start or reload). */
struct gw_cert_set {
  int refs;          /* the listener's, and one per connection */
  struct gw_cert *v; /* in config order: v[0] is the default */
  size_t n;
};

/* 1 when DNS name host (as a client sent it in SNI) matches pattern (a
 * name of a certificate), else 0. Case-insensitive; one trailing dot of
 * host is ignored. A wildcard is only a whole left-most label ("*.a.b"),
 * matches exactly one non-empty label, and needs two labels after it
 * (RFC 6125 §6.4.3; "*.com", "f*.a.b" and "a.*.b" match nothing). */
int gw_cert_name_match(const char *pattern, const char *host);

/* The index of the certificate for server name sni among n name lists:
 * the first whose names match it, else 0 (also when sni is NULL). */
size_t gw_cert_pick(const struct gw_cert_names *const *names, size_t n, const char *sni);

/* Loads every pair of t into a new set (refs 1), with the TLS settings of
 * t (min_version, ALPN "http/1.1", no renegotiation, no compression, SNI
 * selection). now is the time expiry is judged at. Returns 0, or -1 with
 * each problem added to errs as "gateway.tls.certificates[I].cert|key:
 * PATH: why". Warnings (expiring soon) go to warns either way. */
int gw_cert_load(const struct cfg_tls *t, time_t now, struct gw_cert_set **out,
                 struct cfg_errors *errs, struct cfg_errors *warns);

/* Takes / drops a reference; the last one frees the set and its contexts
 * (OpenSSL keeps a context alive while a connection uses it). NULL is
 * fine for both. */
struct gw_cert_set *gw_cert_ref(struct gw_cert_set *s);
void gw_cert_unref(struct gw_cert_set *s);

/* `muster --check`: loads c's certificates (if TLS is on) and prints each
 * problem to f, "warning: " before each warning. Returns 0 when there is
 * no error (warnings allowed), else -1. */
int gw_cert_check(const struct cfg *c, FILE *f);

#endif
