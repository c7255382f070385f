/* ipc_msg — message codec. See ipc_msg.h. */
#include "ipc_msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ipc_scan.h"
#include "ipc_text.h"
#include "util_json.h"

static const char *const type_names[IPC_T__COUNT] = {[IPC_T_NONE] = "?",
#define XX(e, s) [IPC_T_##e] = s,
                                                     IPC_TYPE_MAP(XX)
#undef XX
};

const char *ipc_type_name(enum ipc_type t) {
  return (t > IPC_T_NONE && t < IPC_T__COUNT) ? type_names[t] : "?";
}

static enum ipc_type type_lookup(const char *s) {
  for (int t = IPC_T_NONE + 1; t < IPC_T__COUNT; t++)
    if (strcmp(type_names[t], s) == 0)
      return (enum ipc_type)t;
  return IPC_T_NONE;
}

/* ---- Parsing ---- */

/* State of one parse: the message, and where to say what went wrong. */
struct parse {
  struct ipc_msg *m;
  char *err;
  size_t errlen;
  const char *line; /* the line parsed, and its length */
  size_t len;
  int nul_escape; /* the line has a "\u0000": 1, none: -1, not looked for yet: 0 */
};

static int fail(struct parse *p, const char *fmt, ...) {
  va_list ap;
  int n = snprintf(p->err, p->errlen, "%s: ", ipc_type_name(p->m->type));
  if (n < 0 || (size_t)n >= p->errlen)
    n = 0;
  va_start(ap, fmt);
  vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return UV_EINVAL;
}

/* Reads field `name` as an integer within +-2^53 (util_json_int). Returns
 * 0 or UV_EINVAL. */
static int get_int(struct parse *p, const char *name, int64_t *out, int required) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->m->root, name);
  if (v == NULL)
    return required ? fail(p, "missing field \"%s\"", name) : 0;
  if (util_json_int(v, out) != 0)
    return fail(p, "field \"%s\" must be an integer", name);
  return 0;
}

static int holds_nul(struct parse *p, const char *name, const char *decoded);

/* Reads field `name` as a string (borrowed). cJSON ends a string at a
 * U+0000: unless nul_ok (a text the caller decodes whole again, see
 * body_with_nul), a field holding one is refused rather than cut ("t\u0000x"
 * would be the topic "t"). */
static int get_str_ex(struct parse *p, const char *name, const char **out, int required,
                      int nul_ok) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->m->root, name);
  if (v == NULL)
    return required ? fail(p, "missing field \"%s\"", name) : 0;
  if (!cJSON_IsString(v))
    return fail(p, "field \"%s\" must be a string", name);
  if (!nul_ok && holds_nul(p, name, v->valuestring))
    return fail(p, "field \"%s\" must not hold U+0000", name);
  *out = v->valuestring;
  return 0;
}

static int get_str(struct parse *p, const char *name, const char **out, int required) {
  return get_str_ex(p, name, out, required, 0);
}

/* The first member of the headers object h whose value is neither a string
 * nor an array of strings, or NULL when there is none. Both paths check
 * headers with it. */
static const cJSON *bad_header(const cJSON *h) {
  const cJSON *v, *e;
  cJSON_ArrayForEach(v, h) {
    if (cJSON_IsString(v))
      continue;
    if (!cJSON_IsArray(v))
      return v;
    cJSON_ArrayForEach(e, v) {
      if (!cJSON_IsString(e))
        return v;
    }
  }
  return NULL;
}

/* Reads a headers object: string values, or arrays of strings. */
static int get_headers(struct parse *p) {
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(p->m->root, "headers"), *v;
  if (h == NULL)
    return 0;
  if (!cJSON_IsObject(h))
    return fail(p, "field \"headers\" must be an object");
  if ((v = bad_header(h)) != NULL)
    return fail(p, "header \"%s\" must be a string or an array of strings", v->string);
  p->m->headers = h;
  return 0;
}

/* The first member named f->name (keys compared decoded, as cJSON takes
 * the first of a name): its value's span. */
struct member {
  const char *name;
  size_t n;
  const char *v;
  size_t vn;
};

static int find_member(void *ctx, const char *k, size_t kn, const char *v, size_t vn) {
  struct member *f = ctx;
  int same = kn == f->n && !memcmp(k, f->name, kn);
  if (!same && memchr(k, '\\', kn)) {
    struct ipc_buf key;
    ipc_buf_init(&key);
    same = ipc_scan_string(k - 1, kn + 2, &key) == 0 && key.len == f->n &&
           !memcmp(key.data, f->name, f->n);
    ipc_buf_free(&key);
  }
  if (!same)
    return 0;
  f->v = v;
  f->vn = vn;
  return 1;
}

/* 1 when the line holds a "\u0000" escape (util_json_nul_escape),
 * looked for once per parse. */
static int line_has_nul(struct parse *p) {
  if (p->nul_escape == 0)
    p->nul_escape = p->line && util_json_nul_escape(p->line, p->len) < p->len ? 1 : -1;
  return p->nul_escape > 0;
}

/* 1 when the line has a "\u0000" and field `name` decodes to more than
 * cJSON's C string `decoded` (a U+0000 ended it). The line is searched
 * once per parse. */
static int holds_nul(struct parse *p, const char *name, const char *decoded) {
  if (!line_has_nul(p))
    return 0;
  struct member f = {name, strlen(name), NULL, 0};
  if (ipc_scan_object(p->line, p->line + p->len, find_member, &f) != 1)
    return 0;
  struct ipc_buf b;
  ipc_buf_init(&b);
  int cut = ipc_scan_string(f.v, f.vn, &b) == 0 && b.len != strlen(decoded);
  ipc_buf_free(&b);
  return cut;
}

/* cJSON keeps strings as C strings: a text body holding U+0000 would end
 * there. When the line has a "\u0000", the field is decoded again from its
 * literal into body_buf, whole. Returns 0, or UV_ENOENT (no such escape,
 * or the field not found) / UV_ENOMEM to keep cJSON's value. */
static int body_with_nul(struct parse *p, const char *name) {
  struct member f = {name, strlen(name), NULL, 0};
  struct ipc_buf b;
  if (!line_has_nul(p) || ipc_scan_object(p->line, p->line + p->len, find_member, &f) != 1)
    return UV_ENOENT;
  ipc_buf_init(&b);
  if (ipc_scan_string(f.v, f.vn, &b) != 0 || (ipc_buf_addc(&b, '\0'), b.oom)) {
    ipc_buf_free(&b);
    return UV_ENOMEM;
  }
  p->m->body_buf = b.data;
  p->m->body = b.data;
  p->m->body_len = b.len - 1;
  return 0;
}

/* publish's data holding a "\u0000", which cJSON would cut: its text in
 * the line as json_raw (when it has no CR, so it stays one SSE line) and,
 * for a string, the whole decoded string as body. Out of memory keeps
 * cJSON's value. */
static void data_with_nul(struct parse *p) {
  struct member f = {"data", 4, NULL, 0};
  if (!line_has_nul(p) || ipc_scan_object(p->line, p->line + p->len, find_member, &f) != 1 ||
      memchr(f.v, '\r', f.vn) != NULL)
    return;
  p->m->json_raw = f.v;
  p->m->json_len = f.vn;
  if (cJSON_IsString(p->m->data) && body_with_nul(p, "data") != 0)
    p->m->json_raw = NULL;
}

/* Reads a body given as text field `text` or base64 field `b64` (at most
 * one of them may be present). */
static int get_body(struct parse *p, const char *text, const char *b64) {
  const char *s = NULL, *e = NULL;
  int rc;
  if ((rc = get_str_ex(p, text, &s, 0, 1)) || (rc = get_str(p, b64, &e, 0)))
    return rc;
  if (s && e)
    return fail(p, "fields \"%s\" and \"%s\" are exclusive", text, b64);
  if (s && body_with_nul(p, text) != 0) {
    p->m->body = s;
    p->m->body_len = strlen(s);
  } else if (e) {
    p->m->body_buf = ipc_b64_decode(e, strlen(e), &p->m->body_len);
    if (p->m->body_buf == NULL)
      return fail(p, "field \"%s\" is not valid base64", b64);
    p->m->body = p->m->body_buf;
  }
  return 0;
}

/* The request's headers (already checked by get_headers) as the hdrs
 * array the fast path gives, in one owned arena; arrays joined ", ". */
static int headers_kv(struct parse *p) {
  struct ipc_msg *m = p->m;
  const cJSON *v, *e;
  size_t n = 0, bytes = 0;
  cJSON_ArrayForEach(v, m->headers) {
    n++;
    bytes += strlen(v->string) + 2; /* name and value NULs */
    if (cJSON_IsString(v))
      bytes += strlen(v->valuestring);
    cJSON_ArrayForEach(e, v) bytes += strlen(e->valuestring) + 2; /* ", " */
  }
  if (n == 0)
    return 0;
  m->arena = malloc(n * sizeof(struct ipc_hdr) + bytes + 1);
  if (m->arena == NULL)
    return fail(p, "out of memory");
  struct ipc_hdr *kv = (struct ipc_hdr *)(void *)m->arena;
  char *q = m->arena + n * sizeof(struct ipc_hdr);
  m->hdrs = kv;
  m->nhdrs = n;
  cJSON_ArrayForEach(v, m->headers) {
    kv->name = q;
    q = stpcpy(q, v->string) + 1;
    kv->value = q;
    if (cJSON_IsString(v)) {
      q = stpcpy(q, v->valuestring);
    } else {
      *q = '\0';
      cJSON_ArrayForEach(e, v) {
        if (e != v->child)
          q = stpcpy(q, ", ");
        q = stpcpy(q, e->valuestring);
      }
    }
    q++;
    kv++;
  }
  return 0;
}

static int get_bool(struct parse *p, const char *name, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p->m->root, name);
  if (v == NULL)
    return 0;
  if (!cJSON_IsBool(v))
    return fail(p, "field \"%s\" must be a boolean", name);
  *out = cJSON_IsTrue(v);
  return 0;
}

/* ---- Real-time messages (SPEC §8) ---- */

static int nonempty(struct parse *p, const char *name, const char *v) {
  return v[0] ? 0 : fail(p, "field \"%s\" must not be empty", name);
}

/* Reads base64 field `name` into the body (binary). */
static int get_bytes(struct parse *p, const char *name, int required) {
  const char *e = NULL;
  int rc = get_str(p, name, &e, required);
  if (rc || e == NULL)
    return rc;
  p->m->body_buf = ipc_b64_decode(e, strlen(e), &p->m->body_len);
  if (p->m->body_buf == NULL)
    return fail(p, "field \"%s\" is not valid base64", name);
  p->m->body = p->m->body_buf;
  p->m->binary = 1;
  return 0;
}

/* An optional string that must be one line (an SSE event name). */
static int get_line(struct parse *p, const char *name, const char **out) {
  int rc = get_str(p, name, out, 0);
  if (rc == 0 && *out && (strpbrk(*out, "\r\n") || (*out)[0] == '\0'))
    return fail(p, "field \"%s\" must be one non-empty line", name);
  return rc;
}

/* publish: topic, then data (any JSON) or data_base64, event, except. */
static int parse_publish(struct parse *p) {
  struct ipc_msg *m = p->m;
  int rc;
  if ((rc = get_str(p, "topic", &m->topic, 1)) || (rc = nonempty(p, "topic", m->topic)) ||
      (rc = get_line(p, "event", &m->event)) || (rc = get_str(p, "except", &m->except, 0)))
    return rc;
  m->data = cJSON_GetObjectItemCaseSensitive(m->root, "data");
  int has64 = cJSON_GetObjectItemCaseSensitive(m->root, "data_base64") != NULL;
  if (m->data && has64)
    return fail(p, "fields \"data\" and \"data_base64\" are exclusive");
  if (m->data == NULL && !has64)
    return fail(p, "missing field \"data\"");
  if (m->data)
    data_with_nul(p);
  return has64 ? get_bytes(p, "data_base64", 1) : 0;
}

/* ws_message (muster → service): conn, seq, text or data_base64, meta. */
static int parse_ws_message(struct parse *p) {
  struct ipc_msg *m = p->m;
  int rc;
  if ((rc = get_str(p, "conn", &m->conn, 1)) || (rc = get_int(p, "seq", &m->seq, 1)) ||
      (rc = get_body(p, "text", "data_base64")) ||
      (rc = get_bool(p, "redelivered", &m->redelivered)))
    return rc;
  if (m->body == NULL)
    return fail(p, "missing field \"text\"");
  m->binary = cJSON_GetObjectItemCaseSensitive(m->root, "data_base64") != NULL;
  m->meta = cJSON_GetObjectItemCaseSensitive(m->root, "meta");
  return 0;
}

/* ws_close (both ways): conn, optional code 1000..4999 and reason. */
static int parse_ws_close(struct parse *p) {
  struct ipc_msg *m = p->m;
  int64_t code = 0;
  int rc;
  m->reason = "";
  if ((rc = get_str(p, "conn", &m->conn, 1)) || (rc = get_int(p, "code", &code, 0)) ||
      (rc = get_str_ex(p, "reason", &m->reason, 0, 1)))
    return rc;
  m->reason_len = strlen(m->reason);
  if (body_with_nul(p, "reason") == 0) { /* a U+0000 cJSON would cut */
    m->reason = m->body;
    m->reason_len = m->body_len;
    m->body = NULL;
    m->body_len = 0;
  }
  if (code != 0 && (code < 1000 || code > 4999))
    return fail(p, "field \"code\" must be 1000..4999");
  m->code = (int)code;
  m->meta = cJSON_GetObjectItemCaseSensitive(m->root, "meta");
  return 0;
}

/* ws_send: conn, then exactly one of text, data_base64, json. */
static int parse_ws_send(struct parse *p) {
  struct ipc_msg *m = p->m;
  int rc;
  if ((rc = get_str(p, "conn", &m->conn, 1)) || (rc = get_body(p, "text", "data_base64")))
    return rc;
  m->binary = cJSON_GetObjectItemCaseSensitive(m->root, "data_base64") != NULL;
  m->json = cJSON_GetObjectItemCaseSensitive(m->root, "json");
  if (m->json && m->body)
    return fail(p, "fields \"text\", \"data_base64\" and \"json\" are exclusive");
  if (m->json == NULL && m->body == NULL)
    return fail(p, "missing field \"text\"");
  return 0;
}

/* 1 when v is an array of non-empty strings. */
static int string_array(const cJSON *v) {
  const cJSON *e;
  if (!cJSON_IsArray(v))
    return 0;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsString(e) || e->valuestring[0] == '\0')
      return 0;
  }
  return 1;
}

/* A response's "ws" (status 101: protocol, join, meta) and "hold" (rooms). */
static int parse_response_rt(struct parse *p) {
  struct ipc_msg *m = p->m;
  const cJSON *v;
  if ((m->ws = cJSON_GetObjectItemCaseSensitive(m->root, "ws")) != NULL) {
    if (!cJSON_IsObject(m->ws))
      return fail(p, "field \"ws\" must be an object");
    if ((v = cJSON_GetObjectItemCaseSensitive(m->ws, "protocol")) && !cJSON_IsString(v))
      return fail(p, "field \"ws.protocol\" must be a string");
    if ((v = cJSON_GetObjectItemCaseSensitive(m->ws, "join")) && !string_array(v))
      return fail(p, "field \"ws.join\" must be an array of room names");
    m->meta = cJSON_GetObjectItemCaseSensitive(m->ws, "meta");
  }
  if ((m->hold = cJSON_GetObjectItemCaseSensitive(m->root, "hold")) != NULL) {
    v = cJSON_GetObjectItemCaseSensitive(m->hold, "rooms");
    if (!cJSON_IsObject(m->hold) || !string_array(v) || cJSON_GetArraySize(v) == 0)
      return fail(p, "field \"hold\" must be {\"rooms\": [room names]}");
  }
  return 0;
}

/* A request's "ws" (a WebSocket handshake): {"conn": ..., "protocols": [...]}. */
static int parse_request_ws(struct parse *p) {
  struct ipc_msg *m = p->m;
  const cJSON *c;
  if ((m->ws = cJSON_GetObjectItemCaseSensitive(m->root, "ws")) == NULL)
    return 0;
  c = cJSON_GetObjectItemCaseSensitive(m->ws, "conn");
  if (!cJSON_IsObject(m->ws) || !cJSON_IsString(c))
    return fail(p, "field \"ws\" must be {\"conn\": string, \"protocols\": [...]}");
  m->conn = c->valuestring;
  return 0;
}

/* Fills the typed fields of p->m according to its type. */
static int parse_fields(struct parse *p) {
  struct ipc_msg *m = p->m;
  int rc = 0;
  switch (m->type) {
  case IPC_T_REQUEST:
    m->query = m->prefix = m->remote = "";
    if ((rc = get_int(p, "id", &m->id, 1)) || (rc = get_str(p, "method", &m->method, 1)) ||
        (rc = get_str(p, "path", &m->path, 1)) || (rc = get_str(p, "query", &m->query, 0)) ||
        (rc = get_str(p, "prefix", &m->prefix, 0)) || (rc = get_str(p, "remote", &m->remote, 0)) ||
        (rc = get_headers(p)) || (rc = headers_kv(p)) || (rc = get_body(p, "body", "body_base64")))
      return rc;
    return parse_request_ws(p);
  case IPC_T_CANCEL:
  case IPC_T_END:
    return get_int(p, "id", &m->id, 1);
  case IPC_T_PING:
  case IPC_T_PONG:
    return get_int(p, "seq", &m->seq, 1);
  case IPC_T_SHUTDOWN:
    return get_int(p, "deadline_ms", &m->deadline_ms, 0);
  case IPC_T_READY:
    return 0;
  case IPC_T_RESPONSE: {
    int64_t status = 0;
    if ((rc = get_int(p, "id", &m->id, 1)) || (rc = get_int(p, "status", &status, 1)))
      return rc;
    if (status < 100 || status > 999)
      return fail(p, "field \"status\" must be 100..999");
    m->status = (int)status;
    if ((rc = get_headers(p)) || (rc = get_bool(p, "stream", &m->stream)) ||
        (rc = get_body(p, "body", "body_base64")))
      return rc;
    m->json = cJSON_GetObjectItemCaseSensitive(m->root, "json");
    if (m->json && m->body)
      return fail(p, "fields \"body\" and \"json\" are exclusive");
    return parse_response_rt(p);
  }
  case IPC_T_CHUNK:
    if ((rc = get_int(p, "id", &m->id, 1)) || (rc = get_body(p, "data", "data_base64")))
      return rc;
    if (m->body == NULL)
      return fail(p, "missing field \"data\"");
    return 0;
  case IPC_T_MESSAGE:
    if ((rc = get_str(p, "topic", &m->topic, 1)))
      return rc;
    m->data = cJSON_GetObjectItemCaseSensitive(m->root, "data");
    if (m->data == NULL && (rc = get_bytes(p, "data_base64", 1)) == 0)
      m->binary = 1;
    return rc;
  case IPC_T_PUBLISH:
    return parse_publish(p);
  case IPC_T_WS_MESSAGE:
    return parse_ws_message(p);
  case IPC_T_WS_CLOSE:
    return parse_ws_close(p);
  case IPC_T_WS_SEND:
    return parse_ws_send(p);
  case IPC_T_JOIN:
  case IPC_T_LEAVE:
    if ((rc = get_str(p, "conn", &m->conn, 1)) || (rc = get_str(p, "room", &m->room, 1)))
      return rc;
    return nonempty(p, "room", m->room);
  case IPC_T_META:
    if ((rc = get_str(p, "conn", &m->conn, 1)))
      return rc;
    if ((m->meta = cJSON_GetObjectItemCaseSensitive(m->root, "meta")) == NULL)
      return fail(p, "missing field \"meta\"");
    return 0;
  case IPC_T_ACK:
    if ((rc = get_str(p, "conn", &m->conn, 1)))
      return rc;
    return get_int(p, "seq", &m->seq, 1);
  case IPC_T_SUBSCRIBE:
  case IPC_T_UNSUBSCRIBE:
    return get_str(p, "topic", &m->topic, 1);
  default:
    return fail(p, "unhandled type");
  }
}

/* ---- The fast path ----
 *
 * Its functions return 0, or UV_EINVAL for a line they do not take (then
 * the full path decides, with its precise errors) or UV_ENOMEM. */

/* Spans of the fields a hot message may carry. */
struct fast {
  const char *type, *id, *seq, *status, *stream, *headers, *body, *b64, *json, *data, *d64;
  size_t type_n, id_n, seq_n, status_n, stream_n, headers_n, body_n, b64_n, json_n, data_n, d64_n;
  const char *method, *path, *query, *prefix, *remote; /* request */
  size_t method_n, path_n, query_n, prefix_n, remote_n;
  const char *ws, *hold; /* real-time: left to the full path */
  size_t ws_n, hold_n;
  int dup; /* a field given twice, or a key with an escape (it may decode to
              a field's name): leave it to cJSON's rules */
};

static int fast_member(void *ctx, const char *k, size_t kn, const char *v, size_t vn) {
  struct fast *f = ctx;
  if (memchr(k, '\\', kn) != NULL) {
    f->dup = 1;
    return 0;
  }
#define F(name, field)                                                                             \
  if (kn == sizeof(name) - 1 && !memcmp(k, name, kn)) {                                            \
    if (f->field)                                                                                  \
      f->dup = 1;                                                                                  \
    f->field = v;                                                                                  \
    f->field##_n = vn;                                                                             \
    return 0;                                                                                      \
  }
  /* one F per field (clang-format would read them as one expression) */
  // clang-format off
  F("type", type) F("id", id) F("seq", seq) F("status", status) F("stream", stream)
  F("headers", headers) F("body", body) F("body_base64", b64) F("json", json) F("data", data)
  F("data_base64", d64) F("method", method) F("path", path) F("query", query)
  F("prefix", prefix) F("remote", remote) F("ws", ws) F("hold", hold)
#undef F
  return 0; /* other fields are ignored, as on the full path */
  // clang-format on
}

/* A plain decimal integer of at most 15 digits (so within +-2^53), else
 * UV_EINVAL (then: full path, which judges longer ones as cJSON reads
 * them). */
static int fast_int(const char *s, size_t n, int64_t *out) {
  int64_t v = 0;
  size_t i = s && n && s[0] == '-';
  if (s == NULL || i == n || n - i > 15)
    return UV_EINVAL;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return UV_EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  *out = s[0] == '-' ? -v : v;
  return 0;
}

/* A string field as bytes: plain ones point into the line; escaped ones are
 * decoded into m->body_buf. Base64 is decoded. Returns 0, UV_EINVAL or
 * UV_ENOMEM. */
static int fast_bytes(struct ipc_msg *m, const char *text, size_t tn, const char *b64, size_t bn) {
  if (text && b64)
    return UV_EINVAL;
  if (text) {
    if (text[0] != '"')
      return UV_EINVAL;
    if (ipc_scan_plain_string(text, tn)) {
      m->body = text + 1;
      m->body_len = tn - 2;
      return 0;
    }
    struct ipc_buf b;
    ipc_buf_init(&b);
    if (ipc_scan_string(text, tn, &b) != 0 || memchr(b.data, '\0', b.len)) {
      ipc_buf_free(&b); /* NUL: the full path decodes it (body_with_nul) */
      return UV_EINVAL;
    }
    ipc_buf_addc(&b, '\0');
    m->body_buf = b.data;
    m->body = b.data;
    m->body_len = b.len - 1;
    return b.oom ? UV_ENOMEM : 0;
  }
  if (b64) {
    if (b64[0] != '"' || !ipc_scan_plain_string(b64, bn))
      return UV_EINVAL;
    m->body_buf = ipc_b64_decode(b64 + 1, bn - 2, &m->body_len);
    if (m->body_buf == NULL)
      return UV_EINVAL; /* not base64, or out of memory: the full path says which */
    m->body = m->body_buf;
  }
  return 0;
}

/* ---- The request fast path: everything copied into one arena ---- */

/* Where the strings of a request are copied: kv first, then text. */
struct arena {
  struct ipc_hdr *kv;
  size_t nkv;
  char *p; /* next free byte */
  int bad; /* a value that is not a plain string: full path */
};

/* Copies the JSON string literal s[0..n) decoded and NUL-terminated to
 * a->p; never more than n bytes. NULL when it is not a string or decodes to
 * a NUL (the full path's rules then apply). */
static const char *arena_str(struct arena *a, const char *s, size_t n) {
  char *out = a->p;
  if (n < 2 || s[0] != '"')
    return NULL;
  if (ipc_scan_plain_string(s, n)) {
    memcpy(out, s + 1, n - 2);
    out[n - 2] = '\0';
    a->p += n - 1;
    return out;
  }
  struct ipc_buf b;
  ipc_buf_init(&b);
  if (ipc_scan_string(s, n, &b) != 0 || b.oom || b.len > n - 2 ||
      (b.len && memchr(b.data, '\0', b.len))) {
    ipc_buf_free(&b);
    return NULL;
  }
  if (b.len)
    memcpy(out, b.data, b.len);
  out[b.len] = '\0';
  a->p += b.len + 1;
  ipc_buf_free(&b);
  return out;
}

static int count_header(void *ctx, const char *k, size_t kn, const char *v, size_t vn) {
  struct arena *a = ctx;
  if (v[0] != '"') /* an array of values: rare, the full path joins them */
    return 1;
  a->nkv++;
  return 0;
}

static int copy_header(void *ctx, const char *k, size_t kn, const char *v, size_t vn) {
  struct arena *a = ctx;
  struct ipc_hdr *kv = &a->kv[a->nkv];
  if ((kv->name = arena_str(a, k - 1, kn + 2)) == NULL ||
      (kv->value = arena_str(a, v, vn)) == NULL) {
    a->bad = 1;
    return 1;
  }
  a->nkv++;
  return 0;
}

/* An optional string field: "" when absent. Returns 0 or UV_EINVAL. */
static int arena_opt(struct arena *a, const char *s, size_t n, const char **out) {
  *out = s ? arena_str(a, s, n) : "";
  return *out ? 0 : UV_EINVAL;
}

/* A request without cJSON: the fields the full path reads, with the same
 * rules; anything unusual (a header array, a NUL, a wrong type) returns
 * UV_EINVAL and the full path decides. */
static int fast_request(struct ipc_msg *m, const struct fast *f, size_t len) {
  struct arena a = {0};
  m->type = IPC_T_REQUEST;
  if (fast_int(f->id, f->id_n, &m->id) || f->method == NULL || f->path == NULL ||
      (f->body && f->b64))
    return UV_EINVAL;
  if (f->headers) {
    if (f->headers[0] != '{' ||
        ipc_scan_object(f->headers, f->headers + f->headers_n, count_header, &a) != 0)
      return UV_EINVAL;
  }
  /* Every string is a distinct part of the line and decodes to no more
   * bytes than its literal (quotes included) takes: len bytes hold them. */
  size_t kvsize = a.nkv * sizeof(struct ipc_hdr);
  m->arena = malloc(kvsize + len + 1);
  if (m->arena == NULL)
    return UV_ENOMEM;
  a.kv = (struct ipc_hdr *)(void *)m->arena;
  a.p = m->arena + kvsize;
  a.nkv = 0;
  if (f->headers &&
      (ipc_scan_object(f->headers, f->headers + f->headers_n, copy_header, &a) != 0 || a.bad))
    return UV_EINVAL;
  m->hdrs = a.kv;
  m->nhdrs = a.nkv;
  if ((m->method = arena_str(&a, f->method, f->method_n)) == NULL ||
      (m->path = arena_str(&a, f->path, f->path_n)) == NULL ||
      arena_opt(&a, f->query, f->query_n, &m->query) ||
      arena_opt(&a, f->prefix, f->prefix_n, &m->prefix) ||
      arena_opt(&a, f->remote, f->remote_n, &m->remote))
    return UV_EINVAL;
  if (f->body) {
    if ((m->body = arena_str(&a, f->body, f->body_n)) == NULL)
      return UV_EINVAL;
    m->body_len = (size_t)(a.p - m->body) - 1; /* no NUL inside: checked */
  } else if (f->b64) {
    if (f->b64[0] != '"' || !ipc_scan_plain_string(f->b64, f->b64_n))
      return UV_EINVAL;
    m->body_buf = ipc_b64_decode(f->b64 + 1, f->b64_n - 2, &m->body_len);
    if (m->body_buf == NULL)
      return UV_EINVAL;
    m->body = m->body_buf;
  }
  return 0;
}

/* A response's headers (not empty) through cJSON, checked as the full
 * path checks them (bad_header). The tree goes to m->root, which
 * ipc_msg_free() releases whatever this returns. */
static int fast_headers(struct ipc_msg *m, const char *text, size_t n) {
  cJSON *h = cJSON_ParseWithLength(text, n);
  m->root = h;
  if (!cJSON_IsObject(h) || bad_header(h) != NULL)
    return UV_EINVAL;
  m->headers = h;
  return 0;
}

/* A response: id, status 100..999, stream, a json or byte body, headers. */
static int fast_response(struct ipc_msg *m, const struct fast *f) {
  int64_t status;
  m->type = IPC_T_RESPONSE;
  if (fast_int(f->id, f->id_n, &m->id) || fast_int(f->status, f->status_n, &status) ||
      status < 100 || status > 999 || (f->json && (f->body || f->b64)))
    return UV_EINVAL;
  m->status = (int)status;
  if (f->stream) {
    if (f->stream_n == 4 && !memcmp(f->stream, "true", 4))
      m->stream = 1;
    else if (!(f->stream_n == 5 && !memcmp(f->stream, "false", 5)))
      return UV_EINVAL;
  }
  if (f->json) {
    m->json_raw = f->json;
    m->json_len = f->json_n;
  }
  if (fast_bytes(m, f->body, f->body_n, f->b64, f->b64_n) != 0)
    return UV_EINVAL;
  if (f->headers && !(f->headers_n == 2 && f->headers[0] == '{'))
    return fast_headers(m, f->headers, f->headers_n);
  return 0;
}

/* Parses the hot messages (request, and service→muster response, chunk,
 * end, pong, ready) without a cJSON tree of the line; a response's
 * headers, when present and not empty, still go through cJSON: they are
 * small. Returns 0, or UV_EINVAL / UV_ENOMEM to let the full path decide. */
static int fast_parse(struct ipc_msg *m, const char *line, size_t len) {
  struct fast f;
  memset(&f, 0, sizeof(f));
  if (len == 0 || line[0] != '{' || ipc_scan_object(line, line + len, fast_member, &f) != 0 ||
      f.dup || f.type == NULL || !ipc_scan_plain_string(f.type, f.type_n) || f.ws || f.hold)
    return UV_EINVAL;
  const char *t = f.type + 1;
  size_t tn = f.type_n - 2;
#define IS(name) (tn == sizeof(name) - 1 && !memcmp(t, name, tn))
  if (IS("request"))
    return fast_request(m, &f, len);
  if (IS("response"))
    return fast_response(m, &f);
  if (IS("pong")) {
    m->type = IPC_T_PONG;
    return fast_int(f.seq, f.seq_n, &m->seq);
  }
  if (IS("ready")) {
    m->type = IPC_T_READY;
    return 0;
  }
  if (IS("end")) {
    m->type = IPC_T_END;
    return fast_int(f.id, f.id_n, &m->id);
  }
  if (IS("chunk")) {
    m->type = IPC_T_CHUNK;
    if (fast_int(f.id, f.id_n, &m->id) || (!f.data && !f.d64))
      return UV_EINVAL;
    return fast_bytes(m, f.data, f.data_n, f.d64, f.d64_n);
  }
#undef IS
  return UV_EINVAL;
}

static int parse_line(struct ipc_msg *m, const char *line, size_t len, char *err, size_t errlen) {
  struct parse p = {m, err, errlen, line, len, 0};
  memset(m, 0, sizeof(*m));
  if (fast_parse(m, line, len) == 0)
    return 0;
  ipc_msg_free(m);
  const char *end = NULL;
  memset(m, 0, sizeof(*m));
  if (errlen > 0)
    err[0] = '\0';
  m->root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (m->root == NULL) {
    size_t off = end ? (size_t)(end - line) : 0;
    snprintf(err, errlen, "invalid JSON near offset %zu", off);
    return UV_EINVAL;
  }
  int rc = UV_EINVAL;
  /* Trailing bytes after the value (other than blanks) make the line bad. */
  for (const char *q = end; q && q < line + len; q++) {
    if (*q != ' ' && *q != '\t' && *q != '\r') {
      snprintf(err, errlen, "invalid JSON near offset %zu: trailing data", (size_t)(q - line));
      goto out_free;
    }
  }
  if (cJSON_IsString(m->root) && strcmp(m->root->valuestring, "ready") == 0) {
    m->type = IPC_T_READY; /* PM2's process.send('ready'): the bare string */
    return 0;
  }
  if (!cJSON_IsObject(m->root)) {
    snprintf(err, errlen, "message must be a JSON object");
    goto out_free;
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(m->root, "type");
  if (t == NULL) {
    snprintf(err, errlen, "missing field \"type\"");
    goto out_free;
  }
  if (!cJSON_IsString(t)) {
    snprintf(err, errlen, "field \"type\" must be a string");
    goto out_free;
  }
  m->type = type_lookup(t->valuestring);
  if (m->type == IPC_T_NONE) {
    snprintf(err, errlen, "unknown type \"%.64s\"", t->valuestring);
    goto out_free;
  }
  if ((rc = parse_fields(&p)) == 0)
    return 0;
out_free:
  ipc_msg_free(m);
  return rc;
}

/* Parses copy (n bytes, malloc'd: the line mended) into m, which then
 * owns it, *line and *len pointing at it; the copy m held before (an
 * earlier mending) goes. On failure the copy is freed and m left empty. */
static int reparse(struct ipc_msg *m, char *copy, size_t n, const char **line, size_t *len,
                   char *err, size_t errlen) {
  char *before = m->line_buf; /* *line may be in it: kept until the parse is done */
  m->line_buf = NULL;
  ipc_msg_free(m);
  int rc = parse_line(m, copy, n, err, errlen);
  free(before);
  if (rc != 0) {
    free(copy);
    return rc;
  }
  m->line_buf = copy;
  *line = copy;
  *len = n;
  return 0;
}

/* A line cJSON refused, again with its lone surrogates as U+FFFD
 * (util_json_lone_surrogates). UV_EINVAL (err kept) when there are none. */
static int parse_mended(struct ipc_msg *m, const char **line, size_t *len, char *err,
                        size_t errlen) {
  char *mended;
  if (util_json_lone_surrogates(*line, *len, NULL) == 0 || (mended = malloc(*len)) == NULL)
    return UV_EINVAL;
  util_json_lone_surrogates(*line, *len, mended);
  return reparse(m, mended, *len, line, len, err, errlen);
}

/* 1 for the messages whose text reaches WebSocket clients (text frames
 * and close reasons must be UTF-8, RFC 6455 §5.6 and §8.1: a browser
 * fails the connection with 1007 otherwise). */
static int text_for_clients(const struct ipc_msg *m) {
  return (m->type == IPC_T_WS_SEND && !m->binary) || m->type == IPC_T_WS_CLOSE ||
         (m->type == IPC_T_PUBLISH && !m->binary);
}

/* m parsed from a line with bytes that are not UTF-8 (cJSON passes them
 * raw) and carrying text for clients: parsed again from a copy with
 * U+FFFD for each. 0, or < 0 (m is left empty). */
static int parse_text_mended(struct ipc_msg *m, const char **line, size_t *len, char *err,
                             size_t errlen) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  ipc_utf8_mend(*line, *len, &b);
  if (b.oom) {
    ipc_buf_free(&b);
    ipc_msg_free(m);
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  return reparse(m, b.data, b.len, line, len, err, errlen); /* the buffer's storage */
}

int ipc_msg_parse(struct ipc_msg *m, const char *line, size_t len, char *err, size_t errlen) {
  int rc = parse_line(m, line, len, err, errlen);
  if (rc != 0)
    rc = parse_mended(m, &line, &len, err, errlen);
  if (rc == 0 && text_for_clients(m) && ipc_utf8_mend(line, len, NULL) > 0)
    rc = parse_text_mended(m, &line, &len, err, errlen);
  if (rc == 0) {
    m->line = line;
    m->line_len = len;
  }
  return rc;
}

int ipc_msg_response_id(const char *line, size_t len, int64_t *id) {
  cJSON *o = cJSON_ParseWithLength(line, len);
  char *mended = o == NULL && util_json_lone_surrogates(line, len, NULL) ? malloc(len) : NULL;
  if (mended) { /* as ipc_msg_parse reads it */
    util_json_lone_surrogates(line, len, mended);
    o = cJSON_ParseWithLength(mended, len);
    free(mended);
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(o, "id");
  int ok = cJSON_IsObject(o) && cJSON_IsString(t) && strcmp(t->valuestring, "response") == 0 &&
           util_json_int(i, id) == 0;
  cJSON_Delete(o);
  return ok;
}

void ipc_msg_free(struct ipc_msg *m) {
  cJSON_Delete(m->root);
  free(m->body_buf);
  free(m->arena);
  free(m->line_buf);
  memset(m, 0, sizeof(*m));
}

/* ---- Encoding ---- */

/* Starts a line: {"type":"NAME" */
static void begin(struct ipc_buf *b, enum ipc_type t) {
  ipc_buf_adds(b, "{\"type\":\"");
  ipc_buf_adds(b, type_names[t]);
  ipc_buf_addc(b, '"');
}

static void end_line(struct ipc_buf *b) {
  ipc_buf_add(b, "}\n", 2);
}

static void field_int(struct ipc_buf *b, const char *name, int64_t v) {
  ipc_buf_add(b, ",\"", 2);
  ipc_buf_adds(b, name);
  ipc_buf_add(b, "\":", 2);
  ipc_buf_addi(b, v);
}

static void field_str(struct ipc_buf *b, const char *name, const char *s, size_t n) {
  ipc_buf_add(b, ",\"", 2);
  ipc_buf_adds(b, name);
  ipc_buf_add(b, "\":", 2);
  ipc_json_str(b, s ? s : "", s ? n : 0);
}

/* A field holding raw JSON text. */
static void field_raw(struct ipc_buf *b, const char *name, const char *json, size_t n) {
  ipc_buf_add(b, ",\"", 2);
  ipc_buf_adds(b, name);
  ipc_buf_add(b, "\":", 2);
  if (n == 0)
    ipc_buf_add(b, "null", 4);
  else
    ipc_buf_add(b, json, n);
}

/* Bytes as `text` when valid UTF-8, else base64 in `text`_base64. */
static void field_bytes(struct ipc_buf *b, const char *text, const char *b64, const char *p,
                        size_t n) {
  if (ipc_utf8_valid(p, n)) {
    field_str(b, text, p, n);
  } else {
    ipc_buf_add(b, ",\"", 2);
    ipc_buf_adds(b, b64);
    ipc_buf_add(b, "\":\"", 3);
    ipc_b64_encode(b, p, n);
    ipc_buf_addc(b, '"');
  }
}

static void field_headers(struct ipc_buf *b, const struct ipc_header *h, size_t n) {
  ipc_buf_adds(b, ",\"headers\":{");
  for (size_t i = 0; i < n; i++) {
    if (i)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, h[i].name, h[i].name_len);
    ipc_buf_addc(b, ':');
    ipc_json_str(b, h[i].value, h[i].value_len);
  }
  ipc_buf_addc(b, '}');
}

void ipc_enc_request(struct ipc_buf *b, const struct ipc_request_out *r) {
  begin(b, IPC_T_REQUEST);
  field_int(b, "id", r->id);
  field_str(b, "method", r->method, r->method_len);
  field_str(b, "path", r->path, r->path_len);
  field_str(b, "query", r->query, r->query_len);
  field_str(b, "prefix", r->prefix, r->prefix_len);
  field_headers(b, r->headers, r->nheaders);
  field_bytes(b, "body", "body_base64", r->body, r->body_len);
  field_str(b, "remote", r->remote, r->remote_len);
  if (r->ws_conn) {
    ipc_buf_adds(b, ",\"ws\":{\"conn\":");
    ipc_json_str(b, r->ws_conn, strlen(r->ws_conn));
    ipc_buf_adds(b, ",\"protocols\":[");
    for (size_t i = 0; i < r->ws_nprotocols; i++) {
      if (i)
        ipc_buf_addc(b, ',');
      ipc_json_str(b, r->ws_protocols[i].value, r->ws_protocols[i].value_len);
    }
    ipc_buf_add(b, "]}", 2);
  }
  end_line(b);
}

/* cancel, ping, pong, shutdown and end share a shape: one integer field. */
static void enc_int_msg(struct ipc_buf *b, enum ipc_type t, const char *name, int64_t v) {
  begin(b, t);
  field_int(b, name, v);
  end_line(b);
}

/* subscribe and unsubscribe share a shape: the topic alone. */
static void enc_topic(struct ipc_buf *b, enum ipc_type t, const char *topic) {
  begin(b, t);
  field_str(b, "topic", topic, strlen(topic));
  end_line(b);
}

void ipc_enc_cancel(struct ipc_buf *b, int64_t id) {
  enc_int_msg(b, IPC_T_CANCEL, "id", id);
}

void ipc_enc_ping(struct ipc_buf *b, int64_t seq) {
  enc_int_msg(b, IPC_T_PING, "seq", seq);
}

void ipc_enc_pong(struct ipc_buf *b, int64_t seq) {
  enc_int_msg(b, IPC_T_PONG, "seq", seq);
}

void ipc_enc_shutdown(struct ipc_buf *b, int64_t deadline_ms) {
  enc_int_msg(b, IPC_T_SHUTDOWN, "deadline_ms", deadline_ms);
}

/* message and publish share a shape: topic plus any JSON value. */
static void enc_topic_data(struct ipc_buf *b, enum ipc_type t, const char *topic, const char *data,
                           size_t n) {
  begin(b, t);
  field_str(b, "topic", topic, strlen(topic));
  field_raw(b, "data", data, n);
  end_line(b);
}

void ipc_enc_message(struct ipc_buf *b, const char *topic, const char *data, size_t n) {
  enc_topic_data(b, IPC_T_MESSAGE, topic, data, n);
}

void ipc_enc_publish(struct ipc_buf *b, const char *topic, const char *data, size_t n) {
  enc_topic_data(b, IPC_T_PUBLISH, topic, data, n);
}

void ipc_enc_ready(struct ipc_buf *b) {
  begin(b, IPC_T_READY);
  end_line(b);
}

/* The common head of a response: id, status, headers. */
static void response_head(struct ipc_buf *b, int64_t id, int status, const struct ipc_header *h,
                          size_t nh) {
  begin(b, IPC_T_RESPONSE);
  field_int(b, "id", id);
  field_int(b, "status", status);
  field_headers(b, h, nh);
}

void ipc_enc_response(struct ipc_buf *b, int64_t id, int status, const struct ipc_header *h,
                      size_t nh, const char *body, size_t body_len, int stream) {
  response_head(b, id, status, h, nh);
  if (stream)
    ipc_buf_adds(b, ",\"stream\":true");
  else if (body_len > 0)
    field_bytes(b, "body", "body_base64", body, body_len);
  end_line(b);
}

void ipc_enc_response_json(struct ipc_buf *b, int64_t id, int status, const struct ipc_header *h,
                           size_t nh, const char *json_text, size_t json_len) {
  response_head(b, id, status, h, nh);
  field_raw(b, "json", json_text, json_len);
  end_line(b);
}

void ipc_enc_chunk(struct ipc_buf *b, int64_t id, const char *data, size_t len) {
  begin(b, IPC_T_CHUNK);
  field_int(b, "id", id);
  field_bytes(b, "data", "data_base64", data, len);
  end_line(b);
}

void ipc_enc_end(struct ipc_buf *b, int64_t id) {
  enc_int_msg(b, IPC_T_END, "id", id);
}

void ipc_enc_subscribe(struct ipc_buf *b, const char *topic) {
  enc_topic(b, IPC_T_SUBSCRIBE, topic);
}

void ipc_enc_unsubscribe(struct ipc_buf *b, const char *topic) {
  enc_topic(b, IPC_T_UNSUBSCRIBE, topic);
}

/* ---- Real-time (SPEC §8) ---- */

/* "text" when not binary, else "data_base64". */
static void field_payload(struct ipc_buf *b, const char *data, size_t len, int binary) {
  if (!binary) {
    field_str(b, "text", data, len);
    return;
  }
  ipc_buf_adds(b, ",\"data_base64\":\"");
  ipc_b64_encode(b, data, len);
  ipc_buf_addc(b, '"');
}

void ipc_enc_ws_message(struct ipc_buf *b, const char *conn, int64_t seq, const char *data,
                        size_t len, int binary, const char *meta_json, size_t meta_len,
                        int redelivered) {
  begin(b, IPC_T_WS_MESSAGE);
  field_str(b, "conn", conn, strlen(conn));
  field_int(b, "seq", seq);
  field_payload(b, data, len, binary);
  field_raw(b, "meta", meta_json, meta_json ? meta_len : 0);
  if (redelivered)
    ipc_buf_adds(b, ",\"redelivered\":true");
  end_line(b);
}

void ipc_enc_ws_closed(struct ipc_buf *b, const char *conn, int code, const char *reason,
                       size_t reason_len, const char *meta_json, size_t meta_len) {
  begin(b, IPC_T_WS_CLOSE);
  field_str(b, "conn", conn, strlen(conn));
  field_int(b, "code", code);
  field_str(b, "reason", reason, reason ? reason_len : 0);
  field_raw(b, "meta", meta_json, meta_json ? meta_len : 0);
  end_line(b);
}

void ipc_enc_ws_send(struct ipc_buf *b, const char *conn, const char *data, size_t len,
                     int binary) {
  begin(b, IPC_T_WS_SEND);
  field_str(b, "conn", conn, strlen(conn));
  field_payload(b, data, len, binary);
  end_line(b);
}

void ipc_enc_ws_close(struct ipc_buf *b, const char *conn, int code, const char *reason) {
  begin(b, IPC_T_WS_CLOSE);
  field_str(b, "conn", conn, strlen(conn));
  if (code)
    field_int(b, "code", code);
  if (reason)
    field_str(b, "reason", reason, strlen(reason));
  end_line(b);
}

/* join and leave share a shape. */
static void enc_conn_room(struct ipc_buf *b, enum ipc_type t, const char *conn, const char *room) {
  begin(b, t);
  field_str(b, "conn", conn, strlen(conn));
  field_str(b, "room", room, strlen(room));
  end_line(b);
}

void ipc_enc_join(struct ipc_buf *b, const char *conn, const char *room) {
  enc_conn_room(b, IPC_T_JOIN, conn, room);
}

void ipc_enc_leave(struct ipc_buf *b, const char *conn, const char *room) {
  enc_conn_room(b, IPC_T_LEAVE, conn, room);
}

void ipc_enc_meta(struct ipc_buf *b, const char *conn, const char *meta_json, size_t len) {
  begin(b, IPC_T_META);
  field_str(b, "conn", conn, strlen(conn));
  field_raw(b, "meta", meta_json, len);
  end_line(b);
}

void ipc_enc_ack(struct ipc_buf *b, const char *conn, int64_t seq) {
  begin(b, IPC_T_ACK);
  field_str(b, "conn", conn, strlen(conn));
  field_int(b, "seq", seq);
  end_line(b);
}

void ipc_enc_publish_ex(struct ipc_buf *b, const char *topic, const char *data, size_t len,
                        int binary, const char *event, const char *except) {
  begin(b, IPC_T_PUBLISH);
  field_str(b, "topic", topic, strlen(topic));
  if (binary) {
    ipc_buf_adds(b, ",\"data_base64\":\"");
    ipc_b64_encode(b, data, len);
    ipc_buf_addc(b, '"');
  } else {
    field_raw(b, "data", data, len);
  }
  if (event)
    field_str(b, "event", event, strlen(event));
  if (except)
    field_str(b, "except", except, strlen(except));
  end_line(b);
}

/* ,"name":["a","b"] */
static void field_strings(struct ipc_buf *b, const char *name, const char *const *v, size_t n) {
  ipc_buf_add(b, ",\"", 2);
  ipc_buf_adds(b, name);
  ipc_buf_add(b, "\":[", 3);
  for (size_t i = 0; i < n; i++) {
    if (i)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, v[i], strlen(v[i]));
  }
  ipc_buf_addc(b, ']');
}

void ipc_enc_ws_accept(struct ipc_buf *b, int64_t id, const char *protocol, const char *const *join,
                       size_t njoin, const char *meta_json, size_t meta_len) {
  response_head(b, id, 101, NULL, 0);
  ipc_buf_adds(b, ",\"ws\":{");
  size_t first = b->len; /* the fields below start with ','; the first one's goes */
  if (protocol)
    field_str(b, "protocol", protocol, strlen(protocol));
  if (njoin)
    field_strings(b, "join", join, njoin);
  if (meta_json)
    field_raw(b, "meta", meta_json, meta_len);
  if (b->len > first && !b->oom)
    b->data[first] = ' ';
  ipc_buf_addc(b, '}');
  end_line(b);
}

void ipc_enc_hold(struct ipc_buf *b, int64_t id, const char *const *rooms, size_t nrooms,
                  const char *body, size_t len) {
  response_head(b, id, 200, NULL, 0);
  if (len > 0)
    field_bytes(b, "body", "body_base64", body, len);
  ipc_buf_adds(b, ",\"hold\":{\"rooms\":[");
  for (size_t i = 0; i < nrooms; i++) {
    if (i)
      ipc_buf_addc(b, ',');
    ipc_json_str(b, rooms[i], strlen(rooms[i]));
  }
  ipc_buf_add(b, "]}", 2);
  end_line(b);
}
