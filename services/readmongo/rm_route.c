/* rm_route — request to operation. See rm_route.h. */
#include "rm_route.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "ipc_query.h"
#include "rm_json.h"

#define MAX_SEGMENTS 3 /* db, coll, id or _count/_distinct/_aggregate */

const char *rm_kind_name(enum rm_kind kind) {
  switch (kind) {
  case RM_FIND:
    return "find";
  case RM_GET_ID:
    return "find by _id";
  case RM_COUNT:
    return "count";
  case RM_DISTINCT:
    return "distinct";
  case RM_AGGREGATE:
    return "aggregate";
  case RM_HEALTH:
    return "ping";
  }
  return "?";
}

void rm_op_free(struct rm_op *op) {
  free(op->db);
  free(op->coll);
  free(op->key);
  if (op->filter)
    bson_destroy(op->filter);
  if (op->projection)
    bson_destroy(op->projection);
  if (op->sort)
    bson_destroy(op->sort);
  if (op->pipeline)
    bson_destroy(op->pipeline);
  memset(op, 0, sizeof(*op));
}

/* ---- Path ---- */

/* Percent-decodes the path segment s[0..n) into a new string (owned).
 * Returns NULL with a 400 in err on a bad escape or a NUL byte. */
static char *decode_segment(const char *s, size_t n, struct rm_err *err) {
  char *out = malloc(n + 1);
  size_t o = 0;
  if (out == NULL) {
    rm_err_set(err, 500, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int hi = i + 1 < n ? ipc_query_hexval(s[i + 1]) : -1;
      int lo = i + 2 < n ? ipc_query_hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        rm_err_set(err, 400, "path: bad percent-escape in \"%.*s\"", (int)n, s);
        free(out);
        return NULL;
      }
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    out[o++] = c;
  }
  out[o] = '\0';
  return out;
}

/* Splits path into at most MAX_SEGMENTS decoded segments (one trailing
 * slash is ignored). Returns the count, or UV_EINVAL with err (404: too
 * many or empty segments, 400: bad escapes). seg[] entries are owned. */
static int split_path(const char *path, char **seg, struct rm_err *err) {
  size_t len = strlen(path);
  int n = 0;
  if (len > 1 && path[len - 1] == '/')
    len--;
  if (len <= 1)
    return 0;
  const char *p = path + 1, *end = path + len;
  while (p <= end) {
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *stop = slash ? slash : end;
    if (stop == p || n == MAX_SEGMENTS) {
      rm_err_set(err, 404, "no such endpoint: %s (expected /{db}/{collection}[/{id}])", path);
      goto out_free;
    }
    if ((seg[n] = decode_segment(p, (size_t)(stop - p), err)) == NULL)
      goto out_free;
    n++;
    p = stop + 1;
  }
  return n;
out_free:
  while (n > 0)
    free(seg[--n]);
  return UV_EINVAL;
}

/* ---- Query parameters ---- */

/* Checks that every parameter of query is one of allowed (NULL-terminated)
 * and appears once. Returns 0 or UV_EINVAL with a 400 in err. */
static int check_params(const char *query, const char *const *allowed, struct rm_err *err) {
  const char *p = query;
  while (*p) {
    size_t plen = strcspn(p, "&");
    size_t klen = strcspn(p, "=&");
    if (plen > 0) {
      int known = 0;
      for (const char *const *a = allowed; *a; a++)
        if (strlen(*a) == klen && memcmp(*a, p, klen) == 0)
          known = 1;
      if (!known)
        return rm_err_set(err, 400, "unknown parameter \"%.*s\"", (int)(klen > 64 ? 64 : klen), p);
      /* Seen before? */
      for (const char *q = query; q < p;) {
        size_t ql = strcspn(q, "&"), qk = strcspn(q, "=&");
        if (qk == klen && memcmp(q, p, klen) == 0)
          return rm_err_set(err, 400, "parameter \"%.*s\" given twice", (int)klen, p);
        q += ql + (q[ql] == '&');
      }
    }
    p += plen + (p[plen] == '&');
  }
  return 0;
}

/* Gets parameter name decoded into *out (owned, *len its length).
 * Returns 1 found, 0 absent, or UV_EINVAL: bad encoding (400 in err) or
 * out of memory (500). */
static int get_param(const char *query, const char *name, char **out, size_t *len,
                     struct rm_err *err) {
  size_t cap = strlen(query) + 1;
  char *buf = malloc(cap);
  if (buf == NULL)
    return rm_err_set(err, 500, "out of memory");
  int n = ipc_query_get(query, name, buf, cap);
  if (n == UV_ENOENT) {
    free(buf);
    return 0;
  }
  if (n < 0) {
    free(buf);
    return rm_err_set(err, 400, "%s: bad percent-encoding", name);
  }
  *out = buf;
  *len = (size_t)n;
  return 1;
}

/* Parses JSON parameter name (if present) into *doc. Returns 0 or
 * UV_EINVAL with err set. */
static int json_param(const char *query, const char *name, bson_t **doc, struct rm_err *err) {
  char *text = NULL;
  size_t len = 0;
  int rc = get_param(query, name, &text, &len, err);
  if (rc <= 0)
    return rc;
  *doc = rm_json_parse(name, text, len, RM_JSON_OBJECT, err);
  free(text);
  return *doc ? 0 : UV_EINVAL;
}

/* Reads an integer parameter >= 0. Returns 0 (def if absent) or UV_EINVAL
 * with err set. */
static int int_param(const char *query, const char *name, int64_t def, int64_t *out,
                     struct rm_err *err) {
  if (ipc_query_int(query, name, 0, INT64_MAX, def, out) < 0)
    return rm_err_set(err, 400, "%s: must be an integer >= 0", name);
  return 0;
}

/* ---- _id ---- */

/* 1 when s is 24 hex digits (an ObjectId). */
static int is_oid(const char *s) {
  if (strlen(s) != 24)
    return 0;
  for (int i = 0; i < 24; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  return 1;
}

/* 1 and *v when s is a canonical decimal integer ("-12", not "012"). */
static int is_int(const char *s, int64_t *v) {
  const char *d = s[0] == '-' ? s + 1 : s;
  if (d[0] == '\0' || (d[0] == '0' && d[1] != '\0') || strspn(d, "0123456789") != strlen(d))
    return 0;
  if (strcmp(s, "-0") == 0)
    return 0;
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0')
    return 0;
  *v = x;
  return 1;
}

/* The filter for GET /{db}/{coll}/{id}: {_id: X} for a plain string, else
 * {_id: {$in: [ObjectId or integer, "id"]}} (the string form as fallback). */
static void id_filter(struct rm_op *op, const char *id) {
  bson_oid_t oid;
  int64_t v;
  bson_t *f = bson_new();
  int oidish = is_oid(id), intish = !oidish && is_int(id, &v);
  if (!oidish && !intish) {
    BSON_APPEND_UTF8(f, "_id", id);
    op->limit = 1;
  } else {
    bson_t in, arr;
    BSON_APPEND_DOCUMENT_BEGIN(f, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    if (oidish) {
      bson_oid_init_from_string(&oid, id);
      BSON_APPEND_OID(&arr, "0", &oid);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      BSON_APPEND_INT32(&arr, "0", (int32_t)v);
    } else {
      BSON_APPEND_INT64(&arr, "0", v);
    }
    BSON_APPEND_UTF8(&arr, "1", id);
    bson_append_array_end(&in, &arr);
    bson_append_document_end(f, &in);
    op->limit = 2;
    op->id_numeric = intish;
  }
  op->filter = f;
}

/* ---- Route ---- */

static const char *const find_params[] = {"filter", "projection", "sort", "limit", "skip", NULL};
static const char *const id_params[] = {"projection", NULL};
static const char *const count_params[] = {"filter", "limit", "skip", NULL};
static const char *const distinct_params[] = {"key", "filter", NULL};
static const char *const no_params[] = {NULL};

static int is_read_method(const char *m) {
  return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* 1 when the accept header asks for NDJSON. */
static int wants_ndjson(const char *accept) {
  return accept != NULL && strcasestr(accept, "application/x-ndjson") != NULL;
}

/* The operation kind for the segments, or UV_EINVAL with a 404. */
static int kind_of(int nseg, char **seg, const char *path, struct rm_err *err) {
  if (nseg == 1 && strcmp(seg[0], "_health") == 0)
    return RM_HEALTH;
  if (nseg == 2)
    return RM_FIND;
  if (nseg == 3) {
    if (strcmp(seg[2], "_count") == 0)
      return RM_COUNT;
    if (strcmp(seg[2], "_distinct") == 0)
      return RM_DISTINCT;
    if (strcmp(seg[2], "_aggregate") == 0)
      return RM_AGGREGATE;
    return RM_GET_ID;
  }
  return rm_err_set(err, 404,
                    "no such endpoint: %s (expected /{db}/{collection}[/{id}] "
                    "or /_health)",
                    path);
}

/* Parses the parameters (and body) of op->kind. Returns 0 or UV_EINVAL
 * with err set. */
static int parse_params(const struct rm_route_in *in, const struct rm_config *cfg, struct rm_op *op,
                        struct rm_err *err) {
  const char *q = in->query;
  switch (op->kind) {
  case RM_FIND:
    if (check_params(q, find_params, err) < 0 || json_param(q, "filter", &op->filter, err) < 0 ||
        json_param(q, "projection", &op->projection, err) < 0 ||
        json_param(q, "sort", &op->sort, err) < 0 ||
        int_param(q, "limit", 0, &op->limit, err) < 0 ||
        int_param(q, "skip", 0, &op->skip, err) < 0)
      return UV_EINVAL;
    if (op->limit == 0 || op->limit > cfg->max_limit)
      op->limit = cfg->max_limit;
    op->ndjson = wants_ndjson(in->accept);
    break;
  case RM_GET_ID:
    if (check_params(q, id_params, err) < 0 ||
        json_param(q, "projection", &op->projection, err) < 0)
      return UV_EINVAL;
    break;
  case RM_COUNT:
    if (check_params(q, count_params, err) < 0 || json_param(q, "filter", &op->filter, err) < 0 ||
        int_param(q, "limit", 0, &op->limit, err) < 0 ||
        int_param(q, "skip", 0, &op->skip, err) < 0)
      return UV_EINVAL;
    break;
  case RM_DISTINCT: {
    size_t len = 0;
    if (check_params(q, distinct_params, err) < 0 || json_param(q, "filter", &op->filter, err) < 0)
      return UV_EINVAL;
    int rc = get_param(q, "key", &op->key, &len, err);
    if (rc < 0)
      return UV_EINVAL;
    if (rc == 0 || len == 0 || strlen(op->key) != len)
      return rm_err_set(err, 400, "key: the field to get distinct values of is required");
    break;
  }
  case RM_AGGREGATE:
    if (check_params(q, no_params, err) < 0)
      return UV_EINVAL;
    if (in->body_binary)
      return rm_err_set(err, 400, "pipeline: the body must be a JSON array (UTF-8)");
    op->pipeline = rm_json_parse("pipeline", in->body, in->body_len, RM_JSON_ARRAY, err);
    if (op->pipeline == NULL)
      return UV_EINVAL;
    op->limit = cfg->max_limit;
    op->ndjson = wants_ndjson(in->accept);
    break;
  case RM_HEALTH:
    return check_params(q, no_params, err);
  }
  if (op->filter == NULL && op->kind != RM_AGGREGATE)
    op->filter = bson_new();
  return 0;
}

/* Scans every user document of op for refused operators. */
static int guard(const struct rm_op *op, const struct rm_allow *allow, struct rm_err *err) {
  if (op->filter && rm_guard_scan(op->filter, "filter", allow, op->db, err) < 0)
    return UV_EINVAL;
  if (op->projection && rm_guard_scan(op->projection, "projection", allow, op->db, err) < 0)
    return UV_EINVAL;
  if (op->sort && rm_guard_scan(op->sort, "sort", allow, op->db, err) < 0)
    return UV_EINVAL;
  if (op->pipeline && rm_guard_scan(op->pipeline, "pipeline", allow, op->db, err) < 0)
    return UV_EINVAL;
  return 0;
}

int rm_route(const struct rm_route_in *in, const struct rm_config *cfg,
             const struct rm_allow *allow, struct rm_op *op, struct rm_err *err) {
  char *seg[MAX_SEGMENTS] = {NULL, NULL, NULL};
  memset(op, 0, sizeof(*op));
  err->status = 0;
  err->code = 0;
  err->allow = NULL;
  int nseg = split_path(in->subpath, seg, err);
  if (nseg < 0)
    return UV_EINVAL;
  int kind = kind_of(nseg, seg, in->subpath, err);
  if (kind < 0)
    goto out_fail;
  op->kind = (enum rm_kind)kind;
  if (op->kind == RM_AGGREGATE ? strcmp(in->method, "POST") != 0 : !is_read_method(in->method)) {
    err->allow = op->kind == RM_AGGREGATE ? "POST" : "GET, HEAD";
    rm_err_set(err, 405, "method %s not allowed here (allowed: %s)", in->method, err->allow);
    goto out_fail;
  }
  if (op->kind != RM_HEALTH) {
    if (!rm_guard_db_name_ok(seg[0])) {
      rm_err_set(err, 400, "\"%s\" is not a valid database name", seg[0]);
      goto out_fail;
    }
    if (!rm_guard_coll_name_ok(seg[0], seg[1])) {
      rm_err_set(err, 400, "\"%s\" is not a valid collection name", seg[1]);
      goto out_fail;
    }
    if (!rm_allow_check(allow, seg[0], seg[1])) {
      rm_err_set(err, 403, "namespace %s.%s is not allowed", seg[0], seg[1]);
      goto out_fail;
    }
    op->db = seg[0];
    op->coll = seg[1];
    seg[0] = seg[1] = NULL;
  }
  if (op->kind == RM_GET_ID)
    id_filter(op, seg[2]);
  if (parse_params(in, cfg, op, err) < 0 || guard(op, allow, err) < 0)
    goto out_fail;
  for (int i = 0; i < nseg; i++)
    free(seg[i]);
  return 0;
out_fail:
  for (int i = 0; i < nseg; i++)
    free(seg[i]);
  rm_op_free(op);
  return UV_EINVAL;
}
