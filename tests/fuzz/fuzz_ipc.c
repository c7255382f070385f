/* fuzz_ipc — NDJSON framing and message decoding (ipc_frame, ipc_msg).
 *
 * The whole input goes through the framer in pieces whose sizes come from
 * its first bytes (so a line is cut anywhere, one byte or many at a time);
 * the lines that come out must be exactly those a plain split on '\n'
 * gives (one trailing '\r' dropped, blank lines skipped), and a line over
 * the limit must stop the framer with UV_E2BIG, sticky.
 *
 * Every line is then parsed twice: as it is (the allocation-free fast path
 * may take it) and with a leading blank (which always takes the full cJSON
 * path). Both must accept or refuse alike and agree on every field. What
 * parsed is encoded again with ipc_enc_* and must parse back the same.
 *
 * Decisions where the two paths could differ:
 * - "\u0000" in a body or chunk: the fast path refuses a string that
 *   decodes to a NUL and defers to the full path, which decodes that
 *   field again from its literal (cJSON stores C strings and would cut
 *   the value at the NUL): both give the whole body. In a `json` body the
 *   fast path relays the text as written (escape intact); it is compared
 *   as the tree cJSON makes of it, which is the full path's.
 * - A lone surrogate escape ("\ud800" with no low half after it): cJSON
 *   refuses the line, so ipc_msg_parse parses a mended copy with U+FFFD
 *   in its place; both paths see the same copy, so they still agree.
 * - A line starting with a UTF-8 BOM: cJSON skips a BOM only at offset 0,
 *   so the blank-prefixed copy is refused while the line itself parses.
 *   An artefact of the prefix, not of muster: such lines are parsed but
 *   not compared. */
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "ipc_frame.h"
#include "ipc_msg.h"
#include "ipc_text.h"

/* ---- Helpers ---- */

/* A value as compact JSON text (malloc'd); "{}" for NULL headers. */
static char *json_text(const cJSON *v) {
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  if (s == NULL)
    s = strdup(v ? "?" : "{}");
  return s;
}

static int same_json(const cJSON *a, const cJSON *b) {
  char *x = json_text(a), *y = json_text(b);
  int same = strcmp(x, y) == 0;
  free(x);
  free(y);
  return same;
}

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int same_bytes(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static int utf8(const char *s) {
  return s && ipc_utf8_valid(s, strlen(s));
}

/* ---- Fast path and full path agree ---- */

/* Fails unless a (fast path allowed) and b (full path) say the same. */
static void check_same(const struct ipc_msg *a, const struct ipc_msg *b, const char *line) {
  FUZZ_CHECK(a->type == b->type && a->id == b->id && a->seq == b->seq &&
                 a->deadline_ms == b->deadline_ms && a->status == b->status &&
                 a->stream == b->stream,
             "fast/full disagree on type/id/seq/status/stream: %s", line);
  FUZZ_CHECK((a->body == NULL) == (b->body == NULL) &&
                 same_bytes(a->body, a->body_len, b->body, b->body_len),
             "fast/full disagree on the body: %s", line);
  FUZZ_CHECK(same_str(a->method, b->method) && same_str(a->path, b->path) &&
                 same_str(a->query, b->query) && same_str(a->prefix, b->prefix) &&
                 same_str(a->remote, b->remote) && same_str(a->topic, b->topic),
             "fast/full disagree on a text field: %s", line);
  /* A request's headers are the hdrs array on both paths (the fast path
   * builds no tree); otherwise "headers":{} on the fast path is NULL: the
   * same as empty. */
  FUZZ_CHECK(a->nhdrs == b->nhdrs, "fast/full disagree on the header count: %s", line);
  for (size_t i = 0; i < a->nhdrs; i++)
    FUZZ_CHECK(same_str(a->hdrs[i].name, b->hdrs[i].name) &&
                   same_str(a->hdrs[i].value, b->hdrs[i].value),
               "fast/full disagree on header %zu: %s", i, line);
  if (a->type != IPC_T_REQUEST)
    FUZZ_CHECK(same_json(a->headers, b->headers), "fast/full disagree on headers: %s", line);
  FUZZ_CHECK((a->data == NULL) == (b->data == NULL) && (!a->data || same_json(a->data, b->data)),
             "fast/full disagree on data: %s", line);
  if (a->json_raw && b->json_raw) { /* both from the line: publish data holding U+0000 */
    FUZZ_CHECK(same_bytes(a->json_raw, a->json_len, b->json_raw, b->json_len),
               "fast/full disagree on the json text: %s", line);
  } else if (a->json_raw) {
    cJSON *j = cJSON_ParseWithLength(a->json_raw, a->json_len);
    FUZZ_CHECK(j != NULL && b->json != NULL && same_json(j, b->json),
               "the fast path's json text is not the full path's value: %s", line);
    cJSON_Delete(j);
  } else {
    FUZZ_CHECK((a->json == NULL) == (b->json == NULL) && (!a->json || same_json(a->json, b->json)),
               "fast/full disagree on json: %s", line);
  }
}

/* ---- Encode and parse again ---- */

/* Headers as ipc_header slices when every value is a UTF-8 string (the
 * encoder has no arrays); else NULL. *n is set to the count. */
static struct ipc_header *headers_out(const cJSON *h, size_t *n, int *ok) {
  size_t count = (size_t)cJSON_GetArraySize(h), i = 0;
  struct ipc_header *v = calloc(count ? count : 1, sizeof(*v));
  const cJSON *e;
  *ok = 1;
  *n = 0;
  cJSON_ArrayForEach(e, h) {
    if (!cJSON_IsString(e) || !utf8(e->string) || !utf8(e->valuestring)) {
      *ok = 0;
      return v;
    }
    v[i].name = e->string;
    v[i].name_len = strlen(e->string);
    v[i].value = e->valuestring;
    v[i].value_len = strlen(e->valuestring);
    i++;
  }
  *n = i;
  return v;
}

/* Encodes m (parsed by the full path) with its ipc_enc_* function and
 * checks the line parses back to the same message. */
static void check_roundtrip(const struct ipc_msg *m, const char *line) {
  struct ipc_buf b;
  struct ipc_msg r;
  char err[256];
  size_t nh = 0;
  int hdr_ok = 1, text_ok = 1;
  char *data = NULL;
  struct ipc_header *hv = headers_out(m->headers, &nh, &hdr_ok);
  ipc_buf_init(&b);
  switch (m->type) {
  case IPC_T_REQUEST: {
    struct ipc_request_out o = {.id = m->id,
                                .method = m->method,
                                .method_len = strlen(m->method),
                                .path = m->path,
                                .path_len = strlen(m->path),
                                .query = m->query,
                                .query_len = strlen(m->query),
                                .prefix = m->prefix,
                                .prefix_len = strlen(m->prefix),
                                .remote = m->remote,
                                .remote_len = strlen(m->remote),
                                .headers = hv,
                                .nheaders = nh,
                                .body = m->body,
                                .body_len = m->body_len};
    text_ok =
        utf8(m->method) && utf8(m->path) && utf8(m->query) && utf8(m->prefix) && utf8(m->remote);
    ipc_enc_request(&b, &o);
    break;
  }
  case IPC_T_CANCEL:
    ipc_enc_cancel(&b, m->id);
    break;
  case IPC_T_PING:
    ipc_enc_ping(&b, m->seq);
    break;
  case IPC_T_SHUTDOWN:
    ipc_enc_shutdown(&b, m->deadline_ms);
    break;
  case IPC_T_READY:
    ipc_enc_ready(&b);
    break;
  case IPC_T_END:
    ipc_enc_end(&b, m->id);
    break;
  case IPC_T_PONG:
    ipc_enc_pong(&b, m->seq);
    break;
  case IPC_T_CHUNK:
    ipc_enc_chunk(&b, m->id, m->body, m->body_len);
    break;
  case IPC_T_SUBSCRIBE:
    ipc_enc_subscribe(&b, m->topic);
    break;
  case IPC_T_UNSUBSCRIBE:
    ipc_enc_unsubscribe(&b, m->topic);
    break;
  case IPC_T_MESSAGE:
  case IPC_T_PUBLISH:
    data = json_text(m->data);
    if (m->type == IPC_T_MESSAGE)
      ipc_enc_message(&b, m->topic, data, strlen(data));
    else
      ipc_enc_publish(&b, m->topic, data, strlen(data));
    break;
  case IPC_T_RESPONSE:
    if (m->json) {
      data = json_text(m->json);
      ipc_enc_response_json(&b, m->id, m->status, hv, nh, data, strlen(data));
    } else {
      ipc_enc_response(&b, m->id, m->status, hv, nh, m->body, m->body_len, m->stream);
    }
    break;
  default:
    FUZZ_CHECK(0, "parsed an unknown type %d: %s", (int)m->type, line);
  }
  if (m->topic)
    text_ok = text_ok && utf8(m->topic);
  FUZZ_CHECK(!b.oom && b.len > 0 && b.data[b.len - 1] == '\n' &&
                 memchr(b.data, '\n', b.len - 1) == NULL,
             "an encoded message is not one line: %s", line);
  int rc = ipc_msg_parse(&r, b.data, b.len - 1, err, sizeof(err));
  FUZZ_CHECK(rc == 0, "re-encoded %s does not parse (%s): %.*s", ipc_type_name(m->type), err,
             (int)b.len, b.data);
  FUZZ_CHECK(r.type == m->type && r.id == m->id && r.seq == m->seq &&
                 r.deadline_ms == m->deadline_ms && r.status == m->status,
             "round trip changed type/id/seq/status: %s", line);
  if (m->type == IPC_T_CHUNK || m->type == IPC_T_REQUEST ||
      (m->type == IPC_T_RESPONSE && !m->json && !m->stream))
    FUZZ_CHECK(same_bytes(r.body, r.body_len, m->body, m->body_len),
               "round trip changed the body: %s", line);
  if (m->type == IPC_T_RESPONSE && !m->json)
    FUZZ_CHECK(r.stream == m->stream, "round trip changed stream: %s", line);
  if (m->type == IPC_T_RESPONSE && m->json) {
    /* Parsed back by the fast path, the body is text again. */
    cJSON *raw = r.json_raw ? cJSON_ParseWithLength(r.json_raw, r.json_len) : NULL;
    const cJSON *j = r.json_raw ? raw : r.json;
    FUZZ_CHECK(j && same_json(j, m->json), "round trip changed json: %s", line);
    cJSON_Delete(raw);
  }
  if (m->data)
    FUZZ_CHECK(r.data && same_json(r.data, m->data), "round trip changed data: %s", line);
  if (m->type == IPC_T_RESPONSE && hdr_ok)
    FUZZ_CHECK(same_json(r.headers, m->headers), "round trip changed headers: %s", line);
  if (m->type == IPC_T_REQUEST && hdr_ok) {
    /* (A request gains x-request-id only from the gateway, not the encoder.) */
    FUZZ_CHECK(r.nhdrs == m->nhdrs, "round trip changed the header count: %s", line);
    for (size_t i = 0; i < r.nhdrs; i++)
      FUZZ_CHECK(same_str(r.hdrs[i].name, m->hdrs[i].name) &&
                     same_str(r.hdrs[i].value, m->hdrs[i].value),
                 "round trip changed header %zu: %s", i, line);
  }
  /* Text that was not UTF-8 comes back repaired (U+FFFD); else unchanged. */
  const char *before[] = {m->method, m->path, m->query, m->prefix, m->remote, m->topic};
  const char *after[] = {r.method, r.path, r.query, r.prefix, r.remote, r.topic};
  for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
    FUZZ_CHECK((before[i] == NULL) == (after[i] == NULL), "round trip lost a field: %s", line);
    if (after[i])
      FUZZ_CHECK(utf8(after[i]), "encoded text is not UTF-8: %s", line);
    if (after[i] && text_ok)
      FUZZ_CHECK(strcmp(before[i], after[i]) == 0, "round trip changed text: %s", line);
  }
  ipc_msg_free(&r);
  free(data);
  free(hv);
  ipc_buf_free(&b);
}

/* ---- One line ---- */

static void check_line(const char *line, size_t len) {
  struct ipc_msg a, b;
  char ea[256], eb[256];
  char *full = malloc(len + 2);
  full[0] = ' ';
  memcpy(full + 1, line, len);
  full[len + 1] = '\0';
  int ra = ipc_msg_parse(&a, line, len, ea, sizeof(ea));
  int rb = ipc_msg_parse(&b, full, len + 1, eb, sizeof(eb));
  int bom = len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3);
  FUZZ_CHECK(ra == 0 || ra == UV_EINVAL, "ipc_msg_parse returned %d", ra);
  if (ra != 0)
    FUZZ_CHECK(ea[0] != '\0' && a.root == NULL && a.body_buf == NULL,
               "a refusal without a reason or with memory left: %s", full + 1);
  if (rb != 0)
    FUZZ_CHECK(eb[0] != '\0', "a refusal without a reason: %s", full + 1);
  if (!bom) {
    FUZZ_CHECK(ra == rb, "fast path %s (%s), full path %s (%s): %s", ra ? "refuses" : "accepts",
               ra ? ea : "-", rb ? "refuses" : "accepts", rb ? eb : "-", full + 1);
    if (ra == 0)
      check_same(&a, &b, full + 1);
  }
  if (rb == 0) {
    int64_t id = 0;
    check_roundtrip(&b, full + 1);
    if (b.type == IPC_T_RESPONSE)
      FUZZ_CHECK(ipc_msg_response_id(full, len + 1, &id) == 1 && id == b.id,
                 "ipc_msg_response_id misses a valid response: %s", full + 1);
  } else {
    int64_t id = 0;
    ipc_msg_response_id(full, len + 1, &id); /* must not crash or leak */
  }
  ipc_msg_free(&a);
  ipc_msg_free(&b);
  free(full);
}

/* ---- Framing ---- */

/* The lines a plain split of the input gives: the oracle for the framer. */
struct ref {
  const uint8_t *p;
  size_t n, off, max;
  int too_long; /* a line (or the unterminated tail) over max was met */
};

/* Next expected line: 1 with it in *line and *len, or 0 at the end (or at a
 * line that is too long: then too_long is set). */
static int ref_next(struct ref *r, const char **line, size_t *len) {
  while (r->off < r->n && !r->too_long) {
    const uint8_t *s = r->p + r->off, *nl = memchr(s, '\n', r->n - r->off);
    size_t raw = nl ? (size_t)(nl - s) : r->n - r->off;
    if (raw > r->max) {
      r->too_long = 1;
      return 0;
    }
    if (nl == NULL)
      return 0; /* the unterminated tail is held, not emitted */
    r->off += raw + 1;
    if (raw > 0 && s[raw - 1] == '\r')
      raw--;
    if (raw > 0) {
      *line = (const char *)s;
      *len = raw;
      return 1;
    }
  }
  return 0;
}

static size_t ref_tail(const struct ref *r) {
  return r->too_long ? 0 : r->n - r->off;
}

static int on_line(void *ctx, const char *line, size_t len) {
  struct ref *r = ctx;
  const char *want = NULL;
  size_t wlen = 0;
  FUZZ_CHECK(ref_next(r, &want, &wlen) == 1, "the framer emitted an extra line: %.*s", (int)len,
             line);
  FUZZ_CHECK(len == wlen && memcmp(line, want, len) == 0,
             "the framer emitted \"%.*s\", expected \"%.*s\"", (int)len, line, (int)wlen, want);
  check_line(line, len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ipc_frame f;
  struct ref r = {.p = data, .n = size};
  size_t k = size < 4 ? size : 4, piece = 0;
  int rc = 0;
  /* A small limit for inputs whose first byte has its high bit set, so
   * the too-long path is reached without huge inputs. */
  r.max = size > 0 && (data[0] & 0x80) ? 64 : 2048;
  ipc_frame_init(&f, r.max);
  for (size_t off = 0, i = 0; off < size && rc == 0; off += piece, i++) {
    piece = (size_t)data[i % k] % 23 + 1;
    if (piece > size - off)
      piece = size - off;
    rc = ipc_frame_feed(&f, (const char *)data + off, piece, on_line, &r);
    FUZZ_CHECK(rc == 0 || rc == UV_E2BIG, "ipc_frame_feed returned %d", rc);
  }
  const char *l;
  size_t n;
  FUZZ_CHECK(ref_next(&r, &l, &n) == 0, "the framer held back a complete line: %.*s", (int)n, l);
  FUZZ_CHECK((rc == UV_E2BIG) == r.too_long, "framer %d, but a line over %zu: %d", rc, r.max,
             r.too_long);
  if (rc == 0)
    FUZZ_CHECK(ipc_frame_pending(&f) == ref_tail(&r), "pending %zu, expected %zu",
               ipc_frame_pending(&f), ref_tail(&r));
  else
    FUZZ_CHECK(ipc_frame_feed(&f, "{}\n", 3, on_line, &r) == UV_E2BIG, "E2BIG is not sticky");
  ipc_frame_free(&f);
  return 0;
}
