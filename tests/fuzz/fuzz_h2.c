/* fuzz_h2 — the gateway's HTTP/2 (gw_h2 on nghttp2): frames in, frames out.
 *
 * The in-process gateway of fuzz_gw.h. Each input is what a client sends
 * after the connection preface: the preface and the input go to a fresh
 * connection (h2c with prior knowledge), twice — once in one write, once
 * cut into pieces (sizes from a hash of the input) with a loop turn
 * between them — and then the client half-closes.
 *
 * What comes back is checked:
 * - it is a sequence of whole frames (a close may cut only the last one),
 *   none longer than the default SETTINGS_MAX_FRAME_SIZE (16384), the
 *   first a SETTINGS on stream 0, and every HEADERS, DATA or RST_STREAM on
 *   an odd stream (one a client opened);
 * - every header block decodes (HPACK, one decoder for the connection, as
 *   a client would), with a three-digit :status first, lower-case names,
 *   and none of the headers HTTP/2 forbids (connection, keep-alive,
 *   transfer-encoding, upgrade, proxy-connection);
 * - nothing follows a GOAWAY with an error code but a GOAWAY;
 * - the server closes every connection the client half-closed;
 * - nothing crashes, leaks (LSan) or hangs.
 *
 * The seeds (corpus/fuzz_h2) come from mk_h2_seeds.py (python3-h2). */
#include <nghttp2/nghttp2.h>

#include "fuzz_gw.h"

#define MAX_FRAME 16384 /* the default SETTINGS_MAX_FRAME_SIZE muster keeps */

/* 1 for a header name HTTP/2 forbids in a response (RFC 9113 §8.2.2). */
static int forbidden(const uint8_t *n, size_t len) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
                                      "transfer-encoding", "upgrade"};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (len == strlen(names[i]) && memcmp(n, names[i], len) == 0)
      return 1;
  return 0;
}

/* Decodes one header block and checks its fields. */
static void check_block(nghttp2_hd_inflater *inf, const uint8_t *p, size_t n) {
  int first = 1;
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, p, n, 1);
    FUZZ_CHECK(used >= 0, "a header block muster sent does not decode: %s",
               nghttp2_strerror((int)used));
    p += used;
    n -= (size_t)used;
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      if (first)
        FUZZ_CHECK(nv.namelen == 7 && memcmp(nv.name, ":status", 7) == 0 && nv.valuelen == 3,
                   "a header block that does not begin with :status");
      first = 0;
      for (size_t k = 0; k < nv.namelen; k++)
        FUZZ_CHECK(!(nv.name[k] >= 'A' && nv.name[k] <= 'Z'), "an upper-case header name");
      FUZZ_CHECK(!forbidden(nv.name, nv.namelen), "a connection-specific header: %.*s",
                 (int)nv.namelen, nv.name);
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inf);
      FUZZ_CHECK(!first, "an empty header block");
      return;
    }
    FUZZ_CHECK(used > 0 || n > 0, "a header block that ends too soon");
  }
}

/* Walks the frames the server sent (p[0..n)). */
static void check_frames(const uint8_t *p, size_t n) {
  nghttp2_hd_inflater *inf;
  struct ipc_buf block;
  int first = 1, goaway = 0;
  FUZZ_CHECK(nghttp2_hd_inflate_new(&inf) == 0, "out of memory");
  ipc_buf_init(&block);
  while (n >= 9) {
    size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
    uint8_t type = p[3], flags = p[4];
    uint32_t sid =
        ((uint32_t)p[5] << 24 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8]) & 0x7fffffffu;
    FUZZ_CHECK(len <= MAX_FRAME, "a frame of %zu bytes", len);
    if (n < 9 + len)
      break; /* cut by the close */
    FUZZ_CHECK(!first || (type == NGHTTP2_SETTINGS && sid == 0), "no SETTINGS first");
    FUZZ_CHECK(!goaway || type == NGHTTP2_GOAWAY, "frame type %u after a GOAWAY", type);
    if (type == NGHTTP2_HEADERS || type == NGHTTP2_DATA || type == NGHTTP2_RST_STREAM ||
        type == NGHTTP2_CONTINUATION)
      FUZZ_CHECK(sid & 1, "frame type %u on stream %u, which no client opened", type, sid);
    if (type == NGHTTP2_HEADERS || type == NGHTTP2_CONTINUATION) {
      ipc_buf_add(&block, p + 9, len); /* muster pads nothing, sends no priority */
      if (flags & NGHTTP2_FLAG_END_HEADERS) {
        check_block(inf, (const uint8_t *)block.data, block.len);
        ipc_buf_reset(&block);
      }
    }
    goaway |= type == NGHTTP2_GOAWAY && len >= 8 && (p[13] | p[14] | p[15] | p[16]) != 0;
    first = 0;
    p += 9 + len;
    n -= 9 + len;
  }
  ipc_buf_free(&block);
  nghttp2_hd_inflate_del(inf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ipc_buf in, a, b;
  if (loop == NULL)
    setup();
  ipc_buf_init(&in);
  ipc_buf_add(&in, GW_H2_PREFACE, GW_H2_PREFACE_LEN);
  ipc_buf_add(&in, data, size);
  uint32_t h = fuzz_hash(data, size);
  size_t piece = (h >> 3) % 64 + 1, min_piece = (in.len + 63) / 64;
  if (piece < min_piece)
    piece = min_piece; /* at most 64 pieces: big inputs stay fast */
  exchange(&gateway_addr, (const uint8_t *)in.data, in.len, in.len, &a);
  check_frames((const uint8_t *)a.data, a.len);
  exchange(&gateway_addr, (const uint8_t *)in.data, in.len, piece, &b);
  check_frames((const uint8_t *)b.data, b.len);
  ipc_buf_free(&in);
  ipc_buf_free(&a);
  ipc_buf_free(&b);
  return 0;
}
