/* gw_up_parse — reading an upstream's HTTP/1.x response (SPEC §9). Pure:
 * bytes in, callbacks out, no I/O (tests/unit/test_gw_up_parse.c,
 * tests/fuzz/fuzz_up.c).
 *
 * llhttp in HTTP_RESPONSE mode with none of its lenient options, plus the
 * checks of gw_strict that a strict edge makes on requests, so that what
 * reaches a client is exactly one well-framed response: a response muster
 * cannot read one way only is refused (the client gets 502) —
 *
 * - a status line that is not `HTTP/1.x NNN reason`, a status outside
 *   100..599, another HTTP version;
 * - both content-length and transfer-encoding, several content-lengths
 *   (even equal), a transfer-encoding other than `chunked` or in an
 *   HTTP/1.0 response, a bad chunk size or chunk data not followed by
 *   CRLF;
 * - a header name that is not a token, NUL/CR/LF in a value, obs-fold, a
 *   bare LF before a header line;
 * - status line and headers over max_header_bytes;
 * - a 101 without `upgrade` and `connection: upgrade`, or to a request
 *   that asked for no upgrade.
 *
 * Interim 1xx responses (100, 102, 103) are read and skipped; trailers
 * after a chunked body are checked like headers and dropped. */
#ifndef MUSTER_GW_UP_PARSE_H
#define MUSTER_GW_UP_PARSE_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_hdr.h"
#include "ipc_buf.h"
#include "ipc_msg.h"

struct gw_up_parser;

/* What the parser tells as it reads. Each returns 0, or < 0 to stop
 * (gw_up_parse_feed then returns GW_UP_STOPPED). */
struct gw_up_parse_cbs {
  /* The head of the final response is complete (gw_up_parse_status, the
   * headers, gw_up_parse_clen). */
  int (*on_head)(void *ctx, struct gw_up_parser *p);
  /* The next piece of its body, decoded. */
  int (*on_body)(void *ctx, const char *data, size_t len);
};

struct gw_up_parser {
  llhttp_t p;
  const struct gw_up_parse_cbs *cbs;
  void *ctx;
  struct ipc_buf hbuf; /* header names and values of the response */
  struct gw_hdr *hdrs; /* its headers, in order; owned */
  size_t nhdrs, caphdrs;
  uint32_t header_bytes;     /* status line and headers so far */
  uint32_t max_header_bytes; /* more: refused */
  uint64_t bytes;            /* bytes fed since the last reset */
  uint64_t chunk_left;       /* data bytes left in the current chunk */
  int64_t clen;              /* the content-length framing the body, or -1 */
  const char *err;           /* why the response was refused, or NULL */
  const char *feed_start;    /* the bytes being parsed start here */
  const char *feed_end;      /* ... and end here */
  char prev, prev2;          /* the two bytes before feed_start ('\0': none) */
  char nonws;                /* the last byte before feed_start not SP or HT */
  uint8_t crlf_need;         /* bytes of a chunk's CRLF still to come */
  unsigned head_only : 1;    /* the response to a HEAD request: no body */
  unsigned want_upgrade : 1; /* the request asked for an upgrade: a 101 may come */
  unsigned in_field : 1;     /* the last header callback was a name */
  unsigned in_trailers : 1;  /* past the head: header callbacks are trailers */
  unsigned head_done : 1;    /* the final head was told */
  unsigned done : 1;         /* the response is complete */
  unsigned stopped : 1;      /* a callback stopped the parse */
};

#define GW_UP_MORE 0     /* the response needs more bytes */
#define GW_UP_DONE 1     /* the response is complete */
#define GW_UP_UPGRADE 2  /* a 101 head: what follows is the tunnel's */
#define GW_UP_INVALID -1 /* not a valid response (p->err says why): 502 */
#define GW_UP_STOPPED -2 /* a callback returned < 0 */

/* Sets p up for responses of at most max_header_bytes of head. */
void gw_up_parse_init(struct gw_up_parser *p, const struct gw_up_parse_cbs *cbs, void *ctx,
                      uint32_t max_header_bytes);

/* Gets p ready for the response to the next request: head_only for a
 * HEAD, want_upgrade for a WebSocket handshake. */
void gw_up_parse_reset(struct gw_up_parser *p, int head_only, int want_upgrade);

/* Feeds len bytes. Returns GW_UP_MORE (all consumed), GW_UP_DONE or
 * GW_UP_UPGRADE (*used bytes were the response's; the rest is not), or
 * GW_UP_INVALID / GW_UP_STOPPED. */
int gw_up_parse_feed(struct gw_up_parser *p, const char *data, size_t len, size_t *used);

/* The upstream closed the connection. Returns GW_UP_DONE when that ends
 * a response read until the close, GW_UP_MORE when no byte of a
 * response had come, GW_UP_INVALID when one was cut short. */
int gw_up_parse_eof(struct gw_up_parser *p);

/* The response's status. */
int gw_up_parse_status(const struct gw_up_parser *p);

/* Its content-length when that frames its body, else -1 (chunked, or
 * read until the close). */
int64_t gw_up_parse_clen(const struct gw_up_parser *p);

/* 1 when the connection may carry another request after this response. */
int gw_up_parse_keepalive(const struct gw_up_parser *p);

/* The response's headers for the client into *out (grown as needed):
 * hop-by-hop ones and the framing stay with this hop (connection and what
 * it names, keep-alive, proxy-connection, te, trailer, transfer-encoding,
 * content-length, upgrade), and x-request-id (muster writes its own); for
 * a 101, upgrade and connection pass. Values point into p. Returns the
 * count, or UV_ENOMEM. */
int gw_up_parse_headers(const struct gw_up_parser *p, struct ipc_header **out, size_t *cap);

void gw_up_parse_free(struct gw_up_parser *p);

#endif
