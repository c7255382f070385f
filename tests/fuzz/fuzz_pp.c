/* fuzz_pp — PROXY protocol headers (gw_pp_parse), v1 and v2.
 *
 * Checks:
 * - nothing crashes or reads past the bytes;
 * - a header of length L is that long whatever follows it, and every
 *   prefix shorter than L asks for more: a header read in pieces is read
 *   the same (the connection feeds it as it arrives);
 * - a refusal stays a refusal when more bytes follow;
 * - the addresses of a header, written again as v1 text and as v2
 *   binary, parse to the same addresses and ports (the two encodings
 *   agree). */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "gw_pp.h"

static int same(const struct gw_pp *a, const struct gw_pp *b) {
  return a->local == b->local && a->src.family == b->src.family &&
         !memcmp(a->src.b, b->src.b, 16) && !memcmp(a->dst.b, b->dst.b, 16) &&
         a->sport == b->sport && a->dport == b->dport;
}

/* a's addresses as a v1 line, then as v2, each parsed back. */
static void round_trip(const struct gw_pp *a) {
  char line[GW_PP_V1_MAX];
  struct gw_pp b;
  if (a->local || a->src.family != a->dst.family)
    return; /* v1 has one family for both */
  int n = gw_pp_v1(a, line);
  FUZZ_CHECK(n > 0 && n < GW_PP_V1_MAX, "v1 line of %d bytes", n);
  FUZZ_CHECK(gw_pp_parse(line, (size_t)n, &b) == n && same(a, &b), "v1 %s: %s", line, b.why);
  unsigned char v2[52] = "\r\n\r\n\0\r\nQUIT\n";
  size_t alen = a->src.family == 4 ? 4 : 16, len = 2 * alen + 4;
  v2[12] = 0x21;
  v2[13] = a->src.family == 4 ? 0x11 : 0x21;
  v2[14] = 0;
  v2[15] = (unsigned char)len;
  memcpy(v2 + 16, a->src.b, alen);
  memcpy(v2 + 16 + alen, a->dst.b, alen);
  unsigned char *pt = v2 + 16 + 2 * alen;
  pt[0] = (unsigned char)(a->sport >> 8), pt[1] = (unsigned char)a->sport;
  pt[2] = (unsigned char)(a->dport >> 8), pt[3] = (unsigned char)a->dport;
  FUZZ_CHECK(gw_pp_parse((char *)v2, 16 + len, &b) == (int)(16 + len) && same(a, &b), "v2: %s",
             b.why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data;
  struct gw_pp a, b;
  int r = gw_pp_parse(p, size, &a);
  FUZZ_CHECK(r == GW_PP_MORE || r == GW_PP_ERROR || (r > 0 && (size_t)r <= size), "r %d", r);
  if (r == GW_PP_ERROR) {
    FUZZ_CHECK(a.why[0] != '\0', "an error without a reason");
    return 0;
  }
  if (r == GW_PP_MORE) {
    FUZZ_CHECK(size < GW_PP_MAX, "more wanted after %zu bytes", size);
    return 0;
  }
  FUZZ_CHECK(gw_pp_parse(p, (size_t)r, &b) == r && same(&a, &b), "alone: %s", b.why);
  uint32_t h = fuzz_hash(data, size);
  size_t cut = (size_t)h % (size_t)r; /* one prefix, chosen from the input */
  FUZZ_CHECK(gw_pp_parse(p, cut, &b) == GW_PP_MORE, "prefix %zu of %d: %s", cut, r, b.why);
  round_trip(&a);
  return 0;
}
