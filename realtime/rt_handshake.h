/* rt_handshake — the opening handshake of a WebSocket (RFC 6455 §4.2),
 * the server's side. Pure: the caller hands the request's method,
 * version and headers; the answer is the Sec-WebSocket-Accept value, or
 * why muster refuses without asking a service (400, or 426 with
 * `sec-websocket-version: 13` for another version). SHA-1 comes from
 * OpenSSL's libcrypto, which muster links for TLS anyway: one well-kept
 * implementation rather than a hand-written one. */
#ifndef MUSTER_RT_HANDSHAKE_H
#define MUSTER_RT_HANDSHAKE_H

#include <stddef.h>

/* A header value as bytes, or NULL (absent). */
struct rt_hs_value {
  const char *p;
  size_t n;
};

struct rt_hs_in {
  const char *method;            /* "GET" */
  int http_minor;                /* 1 for HTTP/1.1 */
  struct rt_hs_value upgrade;    /* must list the token "websocket" */
  struct rt_hs_value connection; /* must list the token "upgrade" */
  struct rt_hs_value key;        /* sec-websocket-key: base64 of 16 bytes */
  struct rt_hs_value version;    /* sec-websocket-version: "13" */
  int doubled;                   /* key or version appeared more than once (400) */
};

#define RT_HS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* 1 when the request asks for a WebSocket (an upgrade header listing
 * "websocket"): it must then be a valid handshake or be refused. */
int rt_hs_wanted(const struct rt_hs_in *in);

/* Checks a WebSocket request. Returns 0 with accept (RT_HS_ACCEPT_LEN + 1
 * bytes) filled, or the HTTP status to refuse it with (400, 426) and
 * *why a sentence for the error body. */
int rt_hs_check(const struct rt_hs_in *in, char *accept, const char **why);

/* The accept value for key (base64 of SHA-1(key + the RFC's GUID)) into
 * accept (RT_HS_ACCEPT_LEN + 1 bytes). Returns 0, UV_EIO (libcrypto) or
 * UV_ENOMEM. */
int rt_hs_accept(const char *key, size_t n, char *accept);

/* Calls fn for each comma-separated token of v (spaces and tabs trimmed;
 * empty ones skipped), in order, every one of them (fn returns nothing). */
void rt_hs_tokens(struct rt_hs_value v, void (*fn)(void *ctx, const char *p, size_t n), void *ctx);

/* 1 when v lists token (n bytes): exactly, case and all, when exact (a
 * subprotocol the client offered in sec-websocket-protocol: RFC 6455
 * §4.2.2 wants the server's choice to be one of them), else ignoring
 * case (the tokens of connection and upgrade). */
int rt_hs_lists(struct rt_hs_value v, const char *token, size_t n, int exact);

#endif
