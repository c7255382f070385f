/* gw_tls — TLS termination at the gateway (SPEC §13): the TLS listener
 * and the TLS transport of its connections (struct gw_transport, the seam
 * of gw_conn).
 *
 *   socket ──> rbio ──SSL_read──> protocol (gw_h1)
 *   socket <── wbio <─SSL_write── plaintext of this turn <── protocol
 *
 * OpenSSL runs on memory BIOs: bytes read from the socket are written into
 * the read BIO and SSL_do_handshake / SSL_read consume them; the protocol's
 * writes of one loop turn are gathered and encrypted by one SSL_write
 * (before the loop polls, or at the end of the read that caused them), and
 * the write BIO's bytes go to gw_conn's socket queue. Nothing blocks.
 *
 * - The first byte tells TLS (0x16, a handshake record) from the rest: a
 *   request line (a capital letter) gets an unencrypted 400 and the
 *   connection closes; anything else is dropped.
 * - A handshake not finished within gateway.header_timeout_ms is dropped;
 *   after it the protocol starts (its own header timer runs from there).
 * - A graceful close sends close_notify first; the client's close_notify
 *   is answered with ours and the connection closes.
 * - Handshakes are counted by version and outcome for /metrics.
 * - The listener holds the certificate set new handshakes use
 *   (gw_cert.h); a reload loads the files again and swaps it, each
 *   connection keeping the set it started with.
 *
 * These functions are the gateway's side (gw_tls_load.c): they open the
 * TLS module (gw_tls_mod.h) when a config enables TLS, and do nothing
 * with a NULL listener, so that a muster without TLS never loads it. */
#ifndef MUSTER_GW_TLS_H
#define MUSTER_GW_TLS_H

#include <stdio.h>
#include <sys/socket.h>

#include "cfg.h"
#include "ipc_buf.h"

struct gw_server;
struct gw_tls_server;

/* Starts srv's TLS listener from srv->cfg->tls when it is enabled:
 * opens the TLS module, loads the certificates (warnings logged), binds
 * and listens. Returns 0 (*out NULL when TLS is off), or -1 with the
 * reason logged (a module that cannot be opened names its path and why). */
int gw_tls_start(struct gw_server *srv, struct gw_tls_server **out);

/* Stops accepting / accepts again (drain, shutdown). listen returns 0 or
 * < 0 (logged). */
void gw_tls_unlisten(struct gw_tls_server *ts);
int gw_tls_listen(struct gw_tls_server *ts);

/* A reload, step one (before anything of it is applied): loads the
 * certificates of nc again, even when its text did not change; when nc
 * adds gateway.tls to a gateway without it, opens the module and makes
 * srv->tls, off until step two. Returns 0, or -1 with the reasons added to
 * errs and logged (the set in use stays). nc without TLS: 0, nothing
 * loaded. */
int gw_tls_reload_prepare(struct gw_server *srv, const struct cfg *nc, struct cfg_errors *errs);

/* Step two, once nc is in force, as nginx's reload: new handshakes use
 * what step one loaded; a changed tls.listen moves the listener (it stays
 * where it was when the new address cannot be taken); gateway.tls added
 * starts listening, removed stops it (connections open go on). ts NULL:
 * nothing. */
void gw_tls_reload_commit(struct gw_tls_server *ts, const struct cfg *nc);

/* The address the listener is bound to (its port when configured as 0).
 * Returns 0 or < 0. */
int gw_tls_sockname(struct gw_tls_server *ts, struct sockaddr_storage *ss);

/* Appends the muster_tls_* families to b. */
void gw_tls_render_metrics(const struct gw_tls_server *ts, struct ipc_buf *b);

/* Frees ts after its listener and connections closed. NULL is fine. */
void gw_tls_free(struct gw_tls_server *ts);

/* `muster --check`: when c enables TLS, opens the module and checks the
 * certificates (gw_cert_check): each problem printed to f, "warning: "
 * before each warning. Returns 0 when there is no error, else -1. */
int gw_tls_check(const struct cfg *c, FILE *f);

#endif
