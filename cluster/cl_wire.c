/* cl_wire — records and posted messages between hosts. See cl_wire.h. */
#include "cl_wire.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "ipc_buf.h"

void cl_wire_record(struct ipc_buf *b, const struct cl_record *r) {
  ipc_buf_add(b, "M1 ", 3);
  ipc_buf_add(b, r->origin, r->origin_len);
  ipc_buf_addc(b, ' ');
  ipc_buf_addi(b, (int64_t)r->oseq);
  ipc_buf_addc(b, ' ');
  ipc_buf_addc(b, r->kind);
  ipc_buf_addc(b, ' ');
  ipc_buf_addi(b, r->event ? (int64_t)r->event_len : 0);
  ipc_buf_addc(b, ':');
  if (r->event)
    ipc_buf_add(b, r->event, r->event_len);
  ipc_buf_addc(b, ' ');
  ipc_buf_addi(b, r->except ? (int64_t)r->except_len : 0);
  ipc_buf_addc(b, ':');
  if (r->except)
    ipc_buf_add(b, r->except, r->except_len);
  ipc_buf_addc(b, '\n');
  ipc_buf_add(b, r->body, r->body_len);
}

/* A cursor over the bytes being parsed. */
struct cur {
  const char *p, *end;
  char *err;
  size_t errlen;
};

static int fail(struct cur *c, const char *why) {
  snprintf(c->err, c->errlen, "%s", why);
  return UV_EINVAL;
}

/* A decimal of 1..19 digits, then sep. */
static int take_u64(struct cur *c, char sep, uint64_t *v, const char *what) {
  uint64_t x = 0;
  int digits = 0;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 19) {
    x = x * 10 + (uint64_t)(*c->p++ - '0');
    digits++;
  }
  if (digits == 0 || c->p >= c->end || *c->p != sep)
    return fail(c, what);
  c->p++;
  *v = x;
  return 0;
}

/* Bytes up to sep (not empty, at most max), then sep. */
static int take_word(struct cur *c, char sep, size_t max, const char **s, size_t *n,
                     const char *what) {
  const char *q = memchr(c->p, sep, (size_t)(c->end - c->p));
  if (q == NULL || q == c->p || (size_t)(q - c->p) > max)
    return fail(c, what);
  *s = c->p;
  *n = (size_t)(q - c->p);
  c->p = q + 1;
  return 0;
}

/* LEN ":" BYTES, then sep; NULL for length 0. */
static int take_counted(struct cur *c, char sep, const char **s, size_t *n, const char *what) {
  uint64_t len;
  if (take_u64(c, ':', &len, what) != 0 || len > (uint64_t)(c->end - c->p) ||
      (size_t)len >= (size_t)(c->end - c->p) || c->p[len] != sep)
    return fail(c, what);
  *s = len ? c->p : NULL;
  *n = (size_t)len;
  c->p += len + 1;
  return 0;
}

static int origin_ok(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (slash == NULL || slash == s || slash == s + n - 1)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-' || (ch == '/' && s + i == slash)))
      return 0;
  }
  return 1;
}

static int parse_record(struct cur *c, struct cl_record *r) {
  const char *kind;
  size_t kn;
  memset(r, 0, sizeof(*r));
  if (c->end - c->p < 3 || memcmp(c->p, "M1 ", 3) != 0)
    return fail(c, "not a record (no \"M1 \")");
  c->p += 3;
  if (take_word(c, ' ', CL_ORIGIN_MAX, &r->origin, &r->origin_len, "bad origin") != 0)
    return UV_EINVAL;
  if (!origin_ok(r->origin, r->origin_len))
    return fail(c, "bad origin");
  if (take_u64(c, ' ', &r->oseq, "bad sequence number") != 0 || r->oseq == 0)
    return fail(c, "bad sequence number");
  if (take_word(c, ' ', 1, &kind, &kn, "bad kind") != 0 || kn != 1 ||
      memchr("tjb", *kind, 3) == NULL) /* strchr would take the NUL */
    return fail(c, "bad kind");
  r->kind = *kind;
  if (take_counted(c, ' ', &r->event, &r->event_len, "bad event") != 0 ||
      take_counted(c, '\n', &r->except, &r->except_len, "bad except") != 0)
    return UV_EINVAL;
  r->body = c->p;
  r->body_len = (size_t)(c->end - c->p);
  return 0;
}

int cl_wire_parse_record(const char *p, size_t n, struct cl_record *r, char *err, size_t errlen) {
  struct cur c = {p, p + n, err, errlen};
  return parse_record(&c, r);
}

int cl_wire_epoch_ok(const char *s, size_t n) {
  if (n == 0 || n > CL_EPOCH_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
      return 0;
  return 1;
}

int cl_wire_parse_posted(const char *p, size_t n, struct cl_posted *m, char *err, size_t errlen) {
  struct cur c = {p, p + n, err, errlen};
  const char *e;
  size_t en;
  memset(m, 0, sizeof(*m));
  if (take_word(&c, ' ', CL_EPOCH_MAX, &e, &en, "bad epoch") != 0 || !cl_wire_epoch_ok(e, en))
    return fail(&c, "bad epoch");
  memcpy(m->epoch, e, en);
  m->epoch[en] = '\0';
  if (take_u64(&c, ' ', &m->offset, "bad offset") != 0 || m->offset == 0)
    return fail(&c, "bad offset");
  return parse_record(&c, &m->rec);
}

const char *cl_wire_conn_host(const char *conn, size_t *len) {
  const char *colon = conn ? strchr(conn, ':') : NULL;
  if (colon == NULL || colon == conn)
    return NULL;
  *len = (size_t)(colon - conn);
  return conn;
}
