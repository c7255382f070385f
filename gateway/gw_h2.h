/* gw_h2 — the HTTP/2 protocol of a connection (RFC 9113), on nghttp2's
 * server session (Debian libnghttp2-dev).
 *
 * A connection becomes HTTP/2 in one of two ways:
 *   - on the plain listener, when its first bytes are the HTTP/2
 *     connection preface (h2c "with prior knowledge", RFC 9113 §3.3, as
 *     `curl --http2-prior-knowledge` and `h2load http://...` speak): gw_h1
 *     sees the preface and calls gw_h2_start_on();
 *   - over TLS, when ALPN selected "h2": the TLS transport calls
 *     gw_h2_start_on() once the handshake is done, before it hands the
 *     first decrypted bytes to c->proto->on_data.
 * There is no `Upgrade: h2c` (HTTP/1.1 upgrade, removed by RFC 9113).
 *
 * Each stream is one struct gw_req offered to the same handlers as over
 * HTTP/1.1, answered through gw_h2's own gw_resp_ops. */
#ifndef MUSTER_GW_H2_H
#define MUSTER_GW_H2_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_buf.h"

struct gw_conn;
struct gw_server;

/* The client connection preface (RFC 9113 §3.4), 24 bytes. */
#define GW_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define GW_H2_PREFACE_LEN 24

/* Why muster sent a GOAWAY: the label of muster_h2_goaways_total. */
#define GW_H2_GOAWAY_MAP(XX)                                                                       \
  XX(GRACEFUL, "graceful")             /* shutdown, drain, idle timeout: NO_ERROR */               \
  XX(PROTOCOL, "protocol_error")       /* nghttp2 found a framing or flow-control error */         \
  XX(COMPRESSION, "compression_error") /* invalid HPACK */                                         \
  XX(HEADERS, "header_block")          /* a header block far past max_header_bytes, or too slow */ \
  XX(RAPID_RESET, "rapid_reset")       /* streams reset faster than they complete */               \
  XX(FLOOD, "flood")                   /* PING, SETTINGS, PRIORITY or empty DATA frames */         \
  XX(INTERNAL, "internal")             /* out of memory */

enum gw_h2_goaway {
#define XX(name, label) GW_H2_GOAWAY_##name,
  GW_H2_GOAWAY_MAP(XX)
#undef XX
      GW_H2_GOAWAY_N
};

/* The gateway's HTTP/2 counters (metrics). */
struct gw_h2_stats {
  uint64_t connections;             /* connections that spoke HTTP/2 */
  uint64_t streams;                 /* streams (requests) opened by clients */
  uint64_t resets;                  /* RST_STREAM received from clients */
  uint64_t goaways[GW_H2_GOAWAY_N]; /* GOAWAY frames sent, by reason */
};

/* The HTTP/2 protocol. */
extern const struct gw_proto gw_h2_proto;

/* Hands connection c to HTTP/2 now: what HTTP/1 held for it is released,
 * the server's SETTINGS are queued, and c->proto->on_data takes the
 * client's bytes from the preface on. The one call the TLS transport
 * makes after ALPN selected "h2". */
void gw_h2_start_on(struct gw_conn *c);

/* Appends the HTTP/2 families of srv's counters to b (Prometheus text). */
void gw_h2_render_metrics(const struct gw_server *srv, struct ipc_buf *b);

#endif
