/* fuzz_up — gw_up_parse, the reading of an upstream's response (SPEC §9).
 *
 * The first byte of the input chooses the request the response answers
 * (bit 0: a HEAD, bit 1: a WebSocket upgrade); the rest is the response,
 * fed twice: whole, then cut into pieces (sizes from a hash of the input),
 * then the connection's end. Checked:
 * - both ways give the same outcome (complete, upgrade, invalid, more),
 *   status, body bytes and length of the response's own bytes;
 * - a refusal always says why; a complete response was told its head
 *   once, has a status 100..599 (101 only when an upgrade was asked), no
 *   body for a HEAD, a 204 or a 304, and exactly content-length bytes of
 *   body when that frames it;
 * - the headers for the client are no more than the response's, with no
 *   hop-by-hop or framing header among them (but upgrade and connection
 *   on a 101);
 * - nothing crashes, leaks or reads out of bounds. */
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "gw_fwd.h"
#include "gw_up_parse.h"

#define MAX_BODY (1 << 20)

/* What one run saw. */
struct run {
  int heads, status, rc;
  int64_t clen;
  size_t body, used;
  uint32_t body_hash;
};

static int on_head(void *ctx, struct gw_up_parser *p) {
  struct run *r = ctx;
  r->heads++;
  r->status = gw_up_parse_status(p);
  r->clen = gw_up_parse_clen(p);
  return 0;
}

static int on_body(void *ctx, const char *data, size_t len) {
  struct run *r = ctx;
  r->body += len;
  for (size_t i = 0; i < len; i++) /* FNV-1a over the whole body, however it is cut */
    r->body_hash = (r->body_hash ^ (uint8_t)data[i]) * 16777619u;
  return 0;
}

static const struct gw_up_parse_cbs cbs = {on_head, on_body};

/* The client's headers of p: no hop-by-hop one (but on a 101). */
static void check_headers(const struct gw_up_parser *p) {
  struct ipc_header *h = NULL;
  size_t cap = 0;
  int n = gw_up_parse_headers(p, &h, &cap);
  FUZZ_CHECK(n >= 0 && (size_t)n <= p->nhdrs, "%d headers of %zu", n, p->nhdrs);
  for (int i = 0; i < n; i++) {
    int upgrade = gw_up_parse_status(p) == 101 &&
                  ((h[i].name_len == 7 && !memcmp(h[i].name, "upgrade", 7)) ||
                   (h[i].name_len == 10 && !memcmp(h[i].name, "connection", 10)));
    FUZZ_CHECK(upgrade || !gw_fwd_hop_by_hop(h[i].name, h[i].name_len), "hop-by-hop %.*s",
               (int)h[i].name_len, h[i].name);
    FUZZ_CHECK(!(h[i].name_len == 14 && !strncasecmp(h[i].name, "content-length", 14)),
               "content-length passed");
  }
  free(h);
}

/* Feeds data (in pieces when split) and the end; fills r. */
static void feed(const uint8_t *data, size_t size, int flags, int split, uint32_t seed,
                 struct run *r) {
  struct gw_up_parser p;
  memset(r, 0, sizeof(*r));
  r->body_hash = 2166136261u;
  gw_up_parse_init(&p, &cbs, r, 4096);
  gw_up_parse_reset(&p, flags & 1, (flags >> 1) & 1);
  size_t off = 0, used;
  int rc = GW_UP_MORE;
  while (off < size && rc == GW_UP_MORE) {
    size_t n = split ? 1 + (seed = seed * 1103515245u + 12345u) % 23 : size - off;
    if (n > size - off)
      n = size - off;
    rc = gw_up_parse_feed(&p, (const char *)data + off, n, &used);
    FUZZ_CHECK(used <= n, "used %zu of %zu", used, n);
    off += rc == GW_UP_MORE ? n : used;
  }
  if (rc == GW_UP_MORE)
    rc = gw_up_parse_eof(&p);
  r->rc = rc;
  r->used = off;
  FUZZ_CHECK(rc != GW_UP_INVALID || p.err != NULL, "a refusal without a reason");
  if (rc == GW_UP_DONE || rc == GW_UP_UPGRADE) {
    FUZZ_CHECK(r->heads == 1, "%d heads", r->heads);
    FUZZ_CHECK(r->status >= 100 && r->status <= 599, "status %d", r->status);
    FUZZ_CHECK(r->status != 101 || (flags & 2), "an unasked 101");
    if ((flags & 1) || r->status == 204 || r->status == 304)
      FUZZ_CHECK(r->body == 0, "a body of %zu for status %d", r->body, r->status);
    else if (r->clen >= 0 && rc == GW_UP_DONE)
      FUZZ_CHECK(r->body == (size_t)r->clen, "%zu body bytes for %lld", r->body,
                 (long long)r->clen);
    check_headers(&p);
  }
  gw_up_parse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct run whole, pieces;
  if (size == 0)
    return 0;
  int flags = data[0];
  feed(data + 1, size - 1, flags, 0, 0, &whole);
  feed(data + 1, size - 1, flags, 1, fuzz_hash(data, size), &pieces);
  FUZZ_CHECK(whole.rc == pieces.rc, "rc %d whole, %d in pieces", whole.rc, pieces.rc);
  if (whole.rc == GW_UP_INVALID)
    return 0; /* which check fired first may depend on the cut */
  FUZZ_CHECK(whole.status == pieces.status && whole.body == pieces.body &&
                 whole.body_hash == pieces.body_hash && whole.used == pieces.used,
             "status %d/%d body %zu/%zu used %zu/%zu", whole.status, pieces.status, whole.body,
             pieces.body, whole.used, pieces.used);
  return 0;
}
