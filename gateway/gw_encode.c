/* gw_encode — the rules of on-the-fly gzip. See gw_encode.h. */
#include "gw_encode.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_file.h"
#include "gw_req.h"
#include "rt_handshake.h"

/* The header name of h (gw_headers_find), or NULL. */
static const struct ipc_header *find(const struct ipc_header *h, size_t nh, const char *name) {
  return gw_headers_find(h, nh, name, strlen(name));
}

/* 1 when the list v[0..n) has token (case ignored; rt_hs_lists). */
static int has_token(const char *v, size_t n, const char *token) {
  return rt_hs_lists((struct rt_hs_value){v, n}, token, strlen(token), 0);
}

int gw_encode_type_ok(char *const *types, size_t ntypes, const char *v, size_t n) {
  size_t end = 0;
  while (end < n && v[end] != ';' && v[end] != ' ' && v[end] != '\t')
    end++;
  if (end == 17 && strncasecmp(v, "text/event-stream", 17) == 0)
    return 0;
  for (size_t i = 0; i < ntypes; i++) {
    size_t tl = strlen(types[i]);
    if (tl >= 2 && types[i][tl - 1] == '*' && types[i][tl - 2] == '/') {
      if (end > tl - 1 && strncasecmp(v, types[i], tl - 1) == 0)
        return 1; /* "text/" and a star */
    } else if (tl == end && strncasecmp(v, types[i], end) == 0) {
      return 1;
    }
  }
  return 0;
}

static int status_ok(int s) {
  return (s >= 200 && s < 300 && s != 204 && s != 206) || (s >= 400 && s < 600);
}

int gw_encode_wanted(const struct cfg_compression *c, const struct gw_encode_in *in) {
  if (!c->enabled || in->head || in->accept == NULL || !status_ok(in->status) ||
      (in->clen >= 0 && in->clen < c->min_bytes) ||
      !gw_file_accepts(in->accept, in->accept_len, "gzip"))
    return 0;
  const struct ipc_header *ce = find(in->h, in->nh, "content-encoding");
  const struct ipc_header *cc = find(in->h, in->nh, "cache-control");
  const struct ipc_header *ct = find(in->h, in->nh, "content-type");
  if ((ce && !(ce->value_len == 8 && strncasecmp(ce->value, "identity", 8) == 0)) ||
      find(in->h, in->nh, "content-range") ||
      (cc && has_token(cc->value, cc->value_len, "no-transform")) || ct == NULL)
    return 0;
  return gw_encode_type_ok(c->types, c->ntypes, ct->value, ct->value_len);
}

size_t gw_encode_head(const struct ipc_header *h, size_t nh, struct ipc_header *out, char *buf,
                      size_t cap) {
  size_t k = 0, half = cap / 2;
  int vary = 0;
  for (size_t i = 0; i < nh; i++) {
    const struct ipc_header *x = &h[i];
    if ((x->name_len == 14 && strncasecmp(x->name, "content-length", 14) == 0) ||
        (x->name_len == 16 && strncasecmp(x->name, "content-encoding", 16) == 0))
      continue; /* the framing gives the new length; the encoding is ours */
    out[k] = *x;
    if (x->name_len == 4 && strncasecmp(x->name, "etag", 4) == 0 && x->value_len > 0 &&
        x->value[0] == '"' && x->value_len + 3 <= half) {
      int n = snprintf(buf, half, "W/%.*s", (int)x->value_len, x->value); /* not byte-equal */
      out[k].value = buf;
      out[k].value_len = (size_t)n;
    } else if (x->name_len == 4 && strncasecmp(x->name, "vary", 4) == 0) {
      vary = 1;
      if (!has_token(x->value, x->value_len, "accept-encoding") &&
          !has_token(x->value, x->value_len, "*") && x->value_len + 18 <= half) {
        int n = snprintf(buf + half, half, "%.*s, accept-encoding", (int)x->value_len, x->value);
        out[k].value = buf + half;
        out[k].value_len = (size_t)n;
      }
    }
    k++;
  }
  if (!vary)
    out[k++] = (struct ipc_header){"vary", 4, "accept-encoding", 15};
  out[k++] = (struct ipc_header){"content-encoding", 16, "gzip", 4};
  return k;
}
