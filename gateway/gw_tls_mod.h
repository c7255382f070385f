/* gw_tls_mod — the TLS module: gw_tls.c and gw_cert.c (everything of the
 * gateway that needs OpenSSL's libssl) behind one table.
 *
 * The muster binary does not link them: they are built as muster-tls.so
 * and opened (gw_tls_load.c) the first time a config enables
 * gateway.tls, so a muster without TLS does not map libssl and libcrypto
 * (about 1.5 MB of resident memory in every process). Tests and fuzzers
 * link the same objects in, and the table is used directly.
 *
 * The module is compiled with hidden visibility: the table is its only
 * exported symbol; what it calls of the gateway (gw_conn_*, sup_log, ...)
 * it finds in the muster binary, which exports its symbols for it. */
#ifndef MUSTER_GW_TLS_MOD_H
#define MUSTER_GW_TLS_MOD_H

#include <stdio.h>

#include "gw_tls.h"

/* Raised whenever the table changes. A module is refused unless its abi,
 * muster version and the sizes of the structures it shares with the
 * binary are the binary's own (a module left from another build). */
#define GW_TLS_MOD_ABI 2
#define GW_TLS_MOD_FILE "muster-tls.so"
#define GW_TLS_MOD_EXPORT __attribute__((visibility("default")))

/* What gw_tls.h promises, with the same meanings (see there). */
struct gw_tls_mod {
  int abi;             /* GW_TLS_MOD_ABI */
  const char *version; /* MUSTER_VERSION */
  size_t conn_size;    /* sizeof(struct gw_conn) */
  size_t server_size;  /* sizeof(struct gw_server) */
  int (*start)(struct gw_server *srv, struct gw_tls_server **out);
  /* A listener for srv that is off (a reload that adds gateway.tls turns
   * it on at its commit). Returns 0, or -1 (logged). */
  int (*add)(struct gw_server *srv, struct gw_tls_server **out);
  int (*listen)(struct gw_tls_server *ts);
  void (*unlisten)(struct gw_tls_server *ts);
  int (*sockname)(struct gw_tls_server *ts, struct sockaddr_storage *ss);
  int (*reload_prepare)(struct gw_tls_server *ts, const struct cfg *nc, struct cfg_errors *errs);
  void (*reload_commit)(struct gw_tls_server *ts, const struct cfg *nc);
  void (*render_metrics)(const struct gw_tls_server *ts, struct ipc_buf *b);
  void (*free)(struct gw_tls_server *ts);
  int (*check)(const struct cfg *c, FILE *f);
};

/* The table in muster-tls.so (or linked in). */
extern GW_TLS_MOD_EXPORT const struct gw_tls_mod gw_tls_module;

#endif
