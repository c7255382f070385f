/* rm_json — JSON in and out of BSON. See rm_json.h. */
#include "rm_json.h"

#include <string.h>
#include <uv.h>

/* The first byte that is not JSON whitespace, or len. */
static size_t skip_ws(const char *t, size_t len, size_t i) {
  while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

bson_t *rm_json_parse(const char *what, const char *text, size_t len, enum rm_json_kind kind,
                      struct rm_err *err) {
  const char *want = kind == RM_JSON_ARRAY ? "array" : "object";
  size_t first = skip_ws(text, len, 0);
  if (first == len) {
    rm_err_set(err, 400, "%s: a JSON %s is required, got nothing", what, want);
    return NULL;
  }
  if (text[first] != (kind == RM_JSON_ARRAY ? '[' : '{')) {
    rm_err_set(err, 400, "%s: must be a JSON %s (position %zu: '%c')", what, want, first,
               text[first]);
    return NULL;
  }
  if (memchr(text, '\0', len) != NULL) {
    rm_err_set(err, 400, "%s: invalid JSON: NUL byte at position %zu", what,
               (size_t)((const char *)memchr(text, '\0', len) - text));
    return NULL;
  }
  bson_json_reader_t *r = bson_json_data_reader_new(false, 0);
  bson_t *doc = bson_new();
  bson_error_t e;
  bson_json_data_reader_ingest(r, (const uint8_t *)text, len);
  int rc = bson_json_reader_read(r, doc, &e);
  if (rc == 1) {
    /* One value only: "{} {}" would otherwise pass as its first half. */
    bson_t rest = BSON_INITIALIZER;
    int rc2 = bson_json_reader_read(r, &rest, &e);
    bson_destroy(&rest);
    if (rc2 != 0) {
      rm_err_set(err, 400, "%s: invalid JSON: unexpected data after the %s", what, want);
      rc = -2;
    }
  } else if (rc == 0) {
    rm_err_set(err, 400, "%s: invalid JSON: Incomplete JSON (input ends at position %zu)", what,
               len);
  } else if (strstr(e.message, "position") == NULL && strstr(e.message, "Incomplete")) {
    rm_err_set(err, 400, "%s: invalid JSON: %s (input ends at position %zu)", what, e.message, len);
  } else {
    rm_err_set(err, 400, "%s: invalid JSON: %s", what, e.message);
  }
  bson_json_reader_destroy(r);
  if (rc != 1) {
    bson_destroy(doc);
    return NULL;
  }
  return doc;
}

int rm_json_append(struct ipc_buf *b, const bson_t *doc) {
  size_t n;
  char *s = bson_as_relaxed_extended_json(doc, &n);
  if (s == NULL)
    return UV_EINVAL;
  ipc_buf_add(b, s, n);
  bson_free(s);
  return b->oom ? UV_ENOMEM : 0;
}

size_t rm_json_utf8_cut(const char *p, size_t len, size_t max) {
  if (len <= max)
    return len;
  size_t n = max;
  /* Back off continuation bytes (10xxxxxx) to the start of a sequence. */
  while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80 && max - n < 4)
    n--;
  return n > 0 ? n : max;
}
