/* fuzz_realip — trusted proxy blocks (util_cidr_parse) and the walk over
 * x-forwarded-for (gw_realip), against a reference written the plain way.
 *
 * Input: the first line is the peer address then the trusted blocks,
 * separated by spaces; each further line is one x-forwarded-for value.
 *
 * Checks:
 * - a block that parses holds its own address; written back as
 *   "ADDR/BITS" it parses to the same block;
 * - the walk gives what the reference gives: every entry of every header
 *   split out first, then taken from the last while the hop is trusted;
 * - the client is the peer or an address one of the entries parses to,
 *   and its text parses back to it. */
#include <string.h>

#include "fuzz.h"
#include "gw_realip.h"

#define MAX_BLOCKS 8
#define MAX_HDRS 8
#define MAX_ENTRIES 512

struct input {
  char peer[128];
  struct util_cidr t[MAX_BLOCKS];
  size_t nt;
  const char *hv[MAX_HDRS]; /* header values, in arrival order */
  size_t hl[MAX_HDRS];
  size_t nh;
};

static void check_block(const char *s, const struct util_cidr *c) {
  char text[UTIL_IP_TEXT], again[UTIL_IP_TEXT + 8], err[256];
  struct util_cidr d;
  FUZZ_CHECK(util_cidr_has(c, &c->ip), "%s does not hold its address", s);
  util_ip_text(&c->ip, text);
  snprintf(again, sizeof(again), "%s/%d", text, c->bits);
  FUZZ_CHECK(util_cidr_parse(again, &d, err, sizeof(err)) == 0, "%s from %s: %s", again, s, err);
  FUZZ_CHECK(d.bits == c->bits && d.ip.family == c->ip.family && !memcmp(d.ip.b, c->ip.b, 16),
             "%s is not %s", again, s);
}

/* Reads the first line: the peer, then the blocks that parse. */
static void read_blocks(const char *line, size_t n, struct input *in) {
  char tok[128], err[256];
  size_t i = 0, k = 0;
  while (i <= n) {
    if (i == n || line[i] == ' ') {
      tok[k] = '\0';
      if (k > 0 && in->peer[0] == '\0')
        snprintf(in->peer, sizeof(in->peer), "%s", tok);
      else if (k > 0 && in->nt < MAX_BLOCKS &&
               util_cidr_parse(tok, &in->t[in->nt], err, sizeof(err)) == 0)
        check_block(tok, &in->t[in->nt++]);
      k = 0;
    } else if (k + 1 < sizeof(tok)) {
      tok[k++] = line[i];
    }
    i++;
  }
}

/* The reference walk: returns the client, family 0 when the peer is not an address. */
static struct util_ip reference(const struct input *in) {
  struct util_ip cand = {0};
  if (util_ip_parse(in->peer, strlen(in->peer), &cand) != 0)
    return (struct util_ip){0};
  const char *es[MAX_ENTRIES];
  size_t el[MAX_ENTRIES], ne = 0;
  for (size_t h = 0; h < in->nh; h++) {
    const char *v = in->hv[h], *end = v + in->hl[h];
    for (const char *s = v; ne < MAX_ENTRIES; s++) {
      const char *c = memchr(s, ',', (size_t)(end - s));
      const char *e = c ? c : end;
      while (s < e && (*s == ' ' || *s == '\t'))
        s++;
      while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
      if (e > s) {
        es[ne] = s;
        el[ne++] = (size_t)(e - s);
      }
      if (c == NULL)
        break;
      s = c;
    }
  }
  if (!util_cidr_any(in->t, in->nt, &cand))
    return cand;
  while (ne-- > 0) {
    struct util_ip ip;
    if (gw_realip_entry(es[ne], el[ne], &ip) != 0)
      break;
    cand = ip;
    if (!util_cidr_any(in->t, in->nt, &ip))
      break;
  }
  return cand;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct input in = {0};
  const char *p = (const char *)data, *end = p + size;
  const char *nl = memchr(p, '\n', size);
  read_blocks(p, nl ? (size_t)(nl - p) : size, &in);
  for (const char *s = nl ? nl + 1 : end; s < end && in.nh < MAX_HDRS;) {
    const char *e = memchr(s, '\n', (size_t)(end - s));
    in.hv[in.nh] = s;
    in.hl[in.nh++] = (size_t)((e ? e : end) - s);
    s = e ? e + 1 : end;
  }
  size_t entries = 0; /* the reference keeps MAX_ENTRIES: skip longer lists */
  for (size_t h = 0; h < in.nh; h++)
    for (size_t i = 0; i < in.hl[h]; i++)
      entries += in.hv[h][i] == ',';
  if (entries + in.nh >= MAX_ENTRIES)
    return 0;

  struct gw_realip r;
  gw_realip_start(&r, in.t, in.nt, in.peer);
  for (size_t h = in.nh; h-- > 0 && !r.done;)
    gw_realip_feed(&r, in.hv[h], in.hl[h]);
  struct util_ip want = reference(&in);
  FUZZ_CHECK(r.ip.family == want.family && !memcmp(r.ip.b, want.b, 16),
             "walk and reference differ (families %d, %d)", r.ip.family, want.family);
  if (r.ip.family != 0) {
    char text[UTIL_IP_TEXT];
    struct util_ip back;
    util_ip_text(&r.ip, text);
    FUZZ_CHECK(util_ip_parse(text, strlen(text), &back) == 0 && !memcmp(back.b, r.ip.b, 16),
               "%s does not parse back", text);
  }
  return 0;
}
