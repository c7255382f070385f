/* rt_handshake — WebSocket opening handshake checks. See rt_handshake.h. */
#include "rt_handshake.h"

#include <string.h>
#include <strings.h>
#include <uv.h>

#include "ipc_buf.h"
#include "ipc_text.h"
#include "util_sha1.h"

static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void rt_hs_tokens(struct rt_hs_value v, void (*fn)(void *ctx, const char *p, size_t n), void *ctx) {
  const char *s = v.p, *end = v.p ? v.p + v.n : NULL;
  while (s && s < end) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    const char *e = comma ? comma : end, *a = s;
    while (a < e && (*a == ' ' || *a == '\t'))
      a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
      e--;
    if (e > a)
      fn(ctx, a, (size_t)(e - a));
    s = comma ? comma + 1 : end;
  }
}

struct find {
  const char *want;
  size_t n;
  int exact; /* case matters */
  int found;
};

static void find_token(void *ctx, const char *p, size_t n) {
  struct find *f = ctx;
  if (f->n == n && (f->exact ? memcmp(p, f->want, n) : strncasecmp(p, f->want, n)) == 0)
    f->found = 1;
}

/* 1 when v lists token (case-insensitive). */
static int has_token(struct rt_hs_value v, const char *token) {
  struct find f = {token, strlen(token), 0, 0};
  rt_hs_tokens(v, find_token, &f);
  return f.found;
}

int rt_hs_lists(struct rt_hs_value v, const char *token, size_t n, int exact) {
  struct find f = {token, n, exact, 0};
  rt_hs_tokens(v, find_token, &f);
  return f.found;
}

int rt_hs_wanted(const struct rt_hs_in *in) {
  return in->upgrade.p != NULL && has_token(in->upgrade, "websocket");
}

/* 1 when k is the base64 of 16 bytes: 22 characters and "==". */
static int valid_key(struct rt_hs_value k) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (k.p == NULL || k.n != 24 || k.p[22] != '=' || k.p[23] != '=')
    return 0;
  for (size_t i = 0; i < 22; i++)
    if (k.p[i] == '\0' || strchr(b64, k.p[i]) == NULL)
      return 0;
  /* the last character carries 2 bits: the other 4 must be zero */
  return strchr("AQgw", k.p[21]) != NULL;
}

int rt_hs_check(const struct rt_hs_in *in, char *accept, const char **why) {
  if (strcmp(in->method, "GET") != 0 || in->http_minor < 1) {
    *why = "a WebSocket handshake must be an HTTP/1.1 GET";
    return 400;
  }
  if (in->connection.p == NULL || !has_token(in->connection, "upgrade")) {
    *why = "a WebSocket handshake needs connection: upgrade";
    return 400;
  }
  if (in->doubled) {
    *why = "sec-websocket-key and sec-websocket-version must each appear once";
    return 400;
  }
  if (in->version.p == NULL || in->version.n != 2 || memcmp(in->version.p, "13", 2) != 0) {
    *why = "only WebSocket version 13 is supported";
    return 426;
  }
  if (!valid_key(in->key)) {
    *why = "sec-websocket-key must be the base64 of 16 bytes";
    return 400;
  }
  if (rt_hs_accept(in->key.p, in->key.n, accept) != 0) {
    *why = "SHA-1 failed";
    return 500;
  }
  return 0;
}

int rt_hs_accept(const char *key, size_t n, char *accept) {
  unsigned char md[UTIL_SHA1_LEN];
  if (util_sha1(key, n, guid, sizeof(guid) - 1, md) != 0)
    return UV_EIO;
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_b64_encode(&b, md, 20);
  int rc = b.oom || b.len != RT_HS_ACCEPT_LEN ? UV_ENOMEM : 0;
  if (rc == 0) {
    memcpy(accept, b.data, RT_HS_ACCEPT_LEN);
    accept[RT_HS_ACCEPT_LEN] = '\0';
  }
  ipc_buf_free(&b);
  return rc;
}
