/* gw_fwd — forwarded request headers. See gw_fwd.h. */
#include "gw_fwd.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "util_token.h"
#include "util_vec.h"

static int is(const char *name, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(name, lit, n) == 0;
}

int gw_fwd_hop_by_hop(const char *name, size_t n) {
  switch (n) {
  case 2:
    return is(name, n, "te");
  case 7:
    return is(name, n, "trailer") || is(name, n, "upgrade");
  case 10:
    return is(name, n, "connection") || is(name, n, "keep-alive");
  case 16:
    return is(name, n, "proxy-connection");
  case 17:
    return is(name, n, "transfer-encoding");
  default:
    return 0;
  }
}

size_t gw_fwd_connection_tokens(const char *buf, const struct gw_hdr *h, size_t n,
                                struct gw_fwd_token *t) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < GW_FWD_MAX_NAMED; i++) {
    if (!is(buf + h[i].name, h[i].nlen, "connection"))
      continue;
    const char *v = buf + h[i].value, *end = v + h[i].vlen;
    while (v < end && k < GW_FWD_MAX_NAMED) {
      while (v < end && !util_is_tchar((unsigned char)*v))
        v++;
      const char *s = v;
      while (v < end && util_is_tchar((unsigned char)*v))
        v++;
      if (v > s)
        t[k++] = (struct gw_fwd_token){s, (size_t)(v - s)};
    }
  }
  return k;
}

int gw_fwd_named(const struct gw_fwd_token *t, size_t k, const char *name, size_t n) {
  for (size_t i = 0; i < k; i++)
    if (t[i].n == n && strncasecmp(t[i].p, name, n) == 0)
      return 1;
  return 0;
}

/* 1 when name has an underscore and reads, with '_' as '-', as a header
 * muster vouches for (x_forwarded_for): CGI and WSGI servers (gunicorn,
 * uWSGI, Rack) map both spellings to one HTTP_X_FORWARDED_FOR, so the
 * client's would mix with muster's. nginx drops every name with '_';
 * these few are the ones that matter, and other names pass. */
static int lookalike(const char *name, size_t n) {
  static const char *const vouched[] = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                                        "x-request-id", "x-real-ip"};
  if (memchr(name, '_', n) == NULL)
    return 0;
  for (size_t k = 0; k < sizeof(vouched) / sizeof(*vouched); k++) {
    size_t i = 0;
    if (strlen(vouched[k]) != n)
      continue;
    while (i < n && (name[i] == vouched[k][i] || (name[i] == '_' && vouched[k][i] == '-')))
      i++;
    if (i == n)
      return 1;
  }
  return 0;
}

/* 1 when header i does not go to the service. */
static int dropped(const struct gw_fwd_in *in, size_t i, const struct gw_fwd_token *named,
                   size_t nnamed) {
  const char *name = in->buf + in->hdrs[i].name;
  size_t n = in->hdrs[i].nlen;
  if (in->upgrade && (is(name, n, "upgrade") || is(name, n, "connection")))
    return 0;
  if (gw_fwd_hop_by_hop(name, n) || is(name, n, "x-forwarded-proto") || is(name, n, "x-real-ip") ||
      (is(name, n, "x-forwarded-host") && !in->trusted) || lookalike(name, n))
    return 1;
  return gw_fwd_named(named, nnamed, name, n) && !(in->upgrade && is(name, n, "upgrade"));
}

/* ---- Repeated names ----
 *
 * A header sent several times goes on as one, its values joined. The
 * repeats are found by sorting the headers' indexes by name (glibc's
 * qsort_r: O(n log n) at worst), not by comparing every pair: a request
 * of 2,700 distinct names within the default max_header_bytes took 42 ms
 * of the event loop that way, and a 1 MiB limit would have allowed
 * minutes. */

#define NO_NEXT UINT32_MAX
#define STACK_HDRS 64 /* more headers than this: the links are malloc'd */

/* For each header: the first header of its name, and the next of it. */
struct links {
  uint32_t *first, *next;
};

static int cmp_names(const void *a, const void *b, void *ctx) {
  const struct gw_fwd_in *in = ctx;
  uint32_t i = *(const uint32_t *)a, k = *(const uint32_t *)b;
  const struct gw_hdr *x = &in->hdrs[i], *y = &in->hdrs[k];
  int c = memcmp(in->buf + x->name, in->buf + y->name, x->nlen < y->nlen ? x->nlen : y->nlen);
  if (c == 0)
    c = x->nlen < y->nlen ? -1 : x->nlen > y->nlen;
  return c != 0 ? c : i < k ? -1 : i > k; /* a name's headers in their order */
}

static int same_name(const struct gw_fwd_in *in, uint32_t i, uint32_t k) {
  return in->hdrs[k].nlen == in->hdrs[i].nlen &&
         memcmp(in->buf + in->hdrs[k].name, in->buf + in->hdrs[i].name, in->hdrs[i].nlen) == 0;
}

/* Fills l (order: scratch for n indexes) from the sorted names. */
static void link_names(const struct gw_fwd_in *in, uint32_t *order, struct links *l) {
  for (uint32_t i = 0; i < in->n; i++)
    order[i] = i;
  qsort_r(order, in->n, sizeof(*order), cmp_names, (void *)in);
  for (size_t g = 0; g < in->n;) {
    size_t e = g + 1;
    while (e < in->n && same_name(in, order[g], order[e]))
      e++;
    for (size_t k = g; k < e; k++) {
      l->first[order[k]] = order[g];
      l->next[order[k]] = k + 1 < e ? order[k + 1] : NO_NEXT;
    }
    g = e;
  }
}

/* The value of header i with its later repeats joined by ", " (cookie:
 * "; ", RFC 9113 §8.2.3 — HTTP/2 clients send a cookie field per pair),
 * plus `also` at the end when given (x-forwarded-for); in join or in place. */
static void joined_value(const struct gw_fwd_in *in, const struct links *l, size_t i,
                         const char *also, struct ipc_header *o, struct ipc_buf *join) {
  const char *sep = is(in->buf + in->hdrs[i].name, in->hdrs[i].nlen, "cookie") ? "; " : ", ";
  o->value = in->buf + in->hdrs[i].value;
  o->value_len = in->hdrs[i].vlen;
  if (l->next[i] == NO_NEXT && also == NULL)
    return;
  size_t start = join->len;
  ipc_buf_add(join, o->value, o->value_len);
  for (uint32_t k = l->next[i]; k != NO_NEXT; k = l->next[k]) {
    ipc_buf_add(join, sep, 2);
    ipc_buf_add(join, in->buf + in->hdrs[k].value, in->hdrs[k].vlen);
  }
  if (also) {
    ipc_buf_add(join, ", ", 2);
    ipc_buf_adds(join, also);
  }
  o->value = join->data + start;
  o->value_len = join->len - start;
}

static struct ipc_header hdr(const char *name, const char *value) {
  return (struct ipc_header){name, strlen(name), value, strlen(value)};
}

/* Header i is host and the target's authority replaces its value. */
static int host_replaced(const struct gw_fwd_in *in, const char *name, size_t n,
                         struct ipc_header *o) {
  if (in->host == NULL || !is(name, n, "host"))
    return 0;
  o->value = in->host;
  o->value_len = in->host_len;
  return 1;
}

/* What of muster's own headers the client's already held. */
struct seen {
  int reqid, xff, host, xfh;
  const char *host_v; /* the host the service gets, for x-forwarded-host */
  size_t host_n;
};

/* Header i (a first of its name, not dropped) as the service gets it. */
static void one(const struct gw_fwd_in *in, const struct links *l, size_t i, struct ipc_header *o,
                struct ipc_buf *join, struct seen *sn) {
  const char *name = in->buf + in->hdrs[i].name;
  size_t nlen = in->hdrs[i].nlen;
  o->name = name;
  o->name_len = nlen;
  if (is(name, nlen, "x-request-id")) {
    o->value = in->reqid; /* the one muster uses, valid or replaced */
    o->value_len = strlen(in->reqid);
    sn->reqid = 1;
    return;
  }
  int host = is(name, nlen, "host"), xff = is(name, nlen, "x-forwarded-for");
  sn->xff |= xff;
  sn->xfh |= is(name, nlen, "x-forwarded-host"); /* a trusted proxy's, kept */
  if (!host_replaced(in, name, nlen, o))
    joined_value(in, l, i, xff ? in->remote : NULL, o, join);
  if (host) {
    sn->host = 1;
    sn->host_v = o->value;
    sn->host_n = o->value_len;
  }
}

/* The headers for the service into *out, the repeats linked by l. */
static int fill(const struct gw_fwd_in *in, const struct links *l, struct ipc_header **out,
                size_t *cap, struct ipc_buf *join) {
  struct gw_fwd_token named[GW_FWD_MAX_NAMED];
  size_t nnamed = gw_fwd_connection_tokens(in->buf, in->hdrs, in->n, named), n = 0,
         total = strlen(in->remote) + 2;
  struct seen sn = {0, 0, 0, 0, in->host, in->host_len};
  /* + host, x-request-id, x-forwarded-for, -proto, -host, x-real-ip */
  if (util_vec_reserve(out, cap, in->n + 6) != 0)
    return UV_ENOMEM;
  for (size_t i = 0; i < in->n; i++)
    total += in->hdrs[i].vlen + 2;
  ipc_buf_reset(join); /* reserved whole, so joined values never move */
  if (ipc_buf_reserve(join, total) != 0)
    return UV_ENOMEM;
  for (size_t i = 0; i < in->n; i++)
    if (l->first[i] == i && !dropped(in, i, named, nnamed))
      one(in, l, i, &(*out)[n++], join, &sn); /* else joined into the first, or not passed */
  if (in->host && !sn.host)
    (*out)[n++] = (struct ipc_header){"host", 4, in->host, in->host_len};
  if (!sn.reqid)
    (*out)[n++] = hdr("x-request-id", in->reqid);
  if (!sn.xff)
    (*out)[n++] = hdr("x-forwarded-for", in->remote);
  (*out)[n++] = hdr("x-forwarded-proto", in->proto);
  if (!sn.xfh && sn.host_v)
    (*out)[n++] = (struct ipc_header){"x-forwarded-host", 16, sn.host_v, sn.host_n};
  (*out)[n++] = hdr("x-real-ip", in->client ? in->client : in->remote);
  return (int)n;
}

int gw_fwd_headers(const struct gw_fwd_in *in, struct ipc_header **out, size_t *cap,
                   struct ipc_buf *join) {
  uint32_t stack[3 * STACK_HDRS], *mem = stack;
  if (in->n > STACK_HDRS && (mem = malloc(3 * in->n * sizeof(*mem))) == NULL)
    return UV_ENOMEM;
  struct links l = {mem + in->n, mem + 2 * in->n};
  link_names(in, mem, &l);
  int rc = fill(in, &l, out, cap, join);
  if (mem != stack)
    free(mem);
  return rc;
}
