/* gw_fwd — the headers a service is given for a request (SPEC §4). Pure.
 *
 * - names lower-case (as read), a header repeated is one entry with its
 *   values joined by ", ";
 * - hop-by-hop headers stay with this hop: connection and every header it
 *   names, keep-alive, te, trailer, transfer-encoding, upgrade (kept on a
 *   WebSocket handshake), proxy-connection;
 * - x-request-id is the one muster uses (the client's or its own);
 * - x-forwarded-for gets the client's address appended (nearest hop last,
 *   like nginx's $proxy_add_x_forwarded_for); x-forwarded-proto is the
 *   scheme muster served, whatever the client claimed; a client's
 *   header that reads as one of these with '_' for '-' (x_forwarded_for)
 *   is dropped, since CGI-style servers take both spellings as one;
 * - x-forwarded-host is the host the service gets (the host header, or
 *   an absolute-form target's authority), whatever the client claimed,
 *   unless the peer is a trusted proxy, whose own passes (as Traefik
 *   does): frameworks "behind a proxy" build links from it;
 * - x-real-ip is the client's address as muster believes it (behind a
 *   trusted proxy, the client that proxy names), whatever the client
 *   claimed: nginx setups set it so (proxy_set_header X-Real-IP), Traefik
 *   by default, and frameworks read it before x-forwarded-for;
 * - host is the request target's authority when the client sent the
 *   absolute form (RFC 9112 §3.2.2: a proxy replaces host with it). */
#ifndef MUSTER_GW_FWD_H
#define MUSTER_GW_FWD_H

#include <stddef.h>

#include "gw_req.h"
#include "ipc_buf.h"
#include "ipc_msg.h"

struct gw_fwd_in {
  const char *buf; /* the request's header bytes (req->hbuf) */
  const struct gw_hdr *hdrs;
  size_t n;
  const char *reqid;  /* NUL-terminated */
  const char *remote; /* the connection's peer, NUL-terminated: x-forwarded-for */
  const char *client; /* the client as muster believes it (x-real-ip), or NULL: remote */
  const char *proto;  /* "http" or "https" */
  const char *host;   /* an absolute-form target's authority, or NULL */
  size_t host_len;
  int upgrade; /* a WebSocket handshake: upgrade and connection pass */
  int trusted; /* the peer is a trusted proxy: its x-forwarded-host passes */
};

/* Fills *out (an array of *cap entries, grown as needed) with the headers
 * for the service; values built here live in join (reset first). Returns
 * the count, or UV_ENOMEM. */
int gw_fwd_headers(const struct gw_fwd_in *in, struct ipc_header **out, size_t *cap,
                   struct ipc_buf *join);

/* A name a connection header lists: it stays with this hop. */
struct gw_fwd_token {
  const char *p;
  size_t n;
};

#define GW_FWD_MAX_NAMED 32 /* names the connection headers may list (more: ignored) */

/* The names the connection headers among h[0..n) list (header names
 * lower-case, in buf) into t, at most GW_FWD_MAX_NAMED: read once per
 * head, not once per header. Returns their count. Requests (gw_fwd) and
 * upstream responses (gw_up_parse) share it. */
size_t gw_fwd_connection_tokens(const char *buf, const struct gw_hdr *h, size_t n,
                                struct gw_fwd_token *t);

/* 1 when name (n bytes) is one of t[0..k), case-insensitive. */
int gw_fwd_named(const struct gw_fwd_token *t, size_t k, const char *name, size_t n);

/* 1 when header name (lower-case, n bytes) is hop-by-hop by itself (not
 * counting the ones a connection header names). */
int gw_fwd_hop_by_hop(const char *name, size_t n);

#endif
