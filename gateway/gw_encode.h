/* gw_encode — whether an answer is gzipped on the fly
 * (gateway.compression), and its head when it is. Pure: unit-tested
 * (tests/unit/test_gw_encode.c); gw_gzip does the compressing.
 *
 * An answer is compressed when compression is on, the request is not
 * HEAD, its accept-encoding takes gzip, the status has a body that is not
 * a part or a redirect (2xx but 204 and 206, 4xx, 5xx), the answer has no
 * content-encoding and no content-range, its cache-control has no
 * no-transform, its content-type is one of the types (text/event-stream
 * never: events must leave as written), and its length is unknown or at
 * least min_bytes. */
#ifndef MUSTER_GW_ENCODE_H
#define MUSTER_GW_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ipc_msg.h"

struct gw_encode_in {
  const char *accept; /* the request's accept-encoding, or NULL */
  size_t accept_len;
  int head;                   /* a HEAD request */
  int status;                 /* the answer's */
  int64_t clen;               /* its length, -1 unknown */
  const struct ipc_header *h; /* its headers */
  size_t nh;
};

/* 1 when the answer in is to be gzipped, else 0. */
int gw_encode_wanted(const struct cfg_compression *c, const struct gw_encode_in *in);

/* 1 when the content-type value v[0..n) is one of types (its media type,
 * parameters aside, case ignored; "major/" and a star matches every
 * subtype). */
int gw_encode_type_ok(char *const *types, size_t ntypes, const char *v, size_t n);

#define GW_ENCODE_HEAD_EXTRA 2 /* out has room for nh + this many */

/* The head of the gzipped answer into out: h without content-length,
 * etag made weak (W/), vary with accept-encoding added (or given), and
 * content-encoding: gzip. buf (at least 2 * 256 bytes) holds the values
 * made. Returns the number of headers in out. */
size_t gw_encode_head(const struct ipc_header *h, size_t nh, struct ipc_header *out, char *buf,
                      size_t cap);

#endif
