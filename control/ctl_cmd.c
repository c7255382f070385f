/* ctl_cmd — control request parsing. See ctl_cmd.h. */
#include "ctl_cmd.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "ipc_text.h"
#include "util_json.h"
#include "util_signal.h"

static const struct {
  const char *name;
  int needs_service;
} cmds[] = {[CTL_NONE] = {"?", 0},
#define XX(e, s, svc) [CTL_##e] = {s, svc},
            CTL_CMD_MAP(XX)
#undef XX
};

const char *ctl_cmd_name(enum ctl_cmd_type t) {
  return cmds[t].name;
}

int ctl_cmd_find(const char *word, enum ctl_cmd_type *out) {
  for (int t = CTL_NONE + 1; t <= CTL_VERSION; t++) {
    if (strcmp(word, cmds[t].name) == 0) {
      *out = (enum ctl_cmd_type)t;
      return 0;
    }
  }
  return UV_ENOENT;
}

int ctl_cmd_service(enum ctl_cmd_type t) {
  return cmds[t].needs_service;
}

/* Reads an optional integer field (util_json_int) within [min, max].
 * Returns 1 and sets *out, 0 when absent, or UV_EINVAL with err set. */
static int get_int(const cJSON *o, const char *cmd, const char *name, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  int64_t n;
  if (v == NULL)
    return 0;
  if (util_json_int(v, &n) != 0 || n < min || n > max) {
    snprintf(err, errlen, "%s: field \"%s\" must be an integer %lld..%lld", cmd, name,
             (long long)min, (long long)max);
    return UV_EINVAL;
  }
  *out = n;
  return 1;
}

/* publish: a room ("topic") and a text ("data"), both strings. */
static int get_publish(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "topic");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
  if (out->type != CTL_PUBLISH)
    return 0;
  if (!cJSON_IsString(t) || t->valuestring[0] == '\0' ||
      strlen(t->valuestring) >= sizeof(out->topic)) {
    snprintf(err, errlen, "publish: field \"topic\" must be a room name (1..255 bytes)");
    return UV_EINVAL;
  }
  if (!cJSON_IsString(d) || strlen(d->valuestring) >= sizeof(out->data)) {
    snprintf(err, errlen, "publish: field \"data\" must be a string of at most 16383 bytes");
    return UV_EINVAL;
  }
  snprintf(out->topic, sizeof(out->topic), "%s", t->valuestring);
  snprintf(out->data, sizeof(out->data), "%s", d->valuestring);
  return 0;
}

/* signal: the "signal" to send, by name (util_signal). */
static int get_signal(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "signal");
  if (out->type != CTL_SIGNAL)
    return 0;
  if (!cJSON_IsString(v) || (out->signo = util_signal_parse(v->valuestring)) == 0) {
    snprintf(err, errlen, "signal: field \"signal\" must be one of " UTIL_SIGNAL_NAMES);
    return UV_EINVAL;
  }
  return 0;
}

/* Parses line as one JSON object with nothing but blanks after it.
 * Returns the tree (owned by the caller), or NULL with err set. */
static cJSON *parse_object(const char *line, size_t len, char *err, size_t errlen) {
  const char *end = NULL;
  size_t bad = ipc_utf8_mend(line, len, NULL);
  if (bad > 0) { /* cJSON takes any byte: a room or a text would carry them on */
    snprintf(err, errlen, "a request must be UTF-8 text (%zu byte%s not)", bad,
             bad == 1 ? " is" : "s are");
    return NULL;
  }
  cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (o == NULL) {
    snprintf(err, errlen, "invalid JSON near offset %zu", end ? (size_t)(end - line) : (size_t)0);
    return NULL;
  }
  for (const char *q = end; q < line + len; q++) { /* one request per line */
    if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') {
      snprintf(err, errlen, "invalid JSON near offset %zu: trailing data", (size_t)(q - line));
      cJSON_Delete(o);
      return NULL;
    }
  }
  size_t nul = util_json_nul_escape(line, len); /* cJSON would cut the string there */
  if (nul < len) {
    snprintf(err, errlen, "invalid JSON near offset %zu: U+0000 is not taken", nul);
    cJSON_Delete(o);
    return NULL;
  }
  if (!cJSON_IsObject(o)) {
    snprintf(err, errlen, "a request is a JSON object like {\"cmd\":\"status\"}");
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Checks that o has no field but the known ones. Returns 0 or UV_EINVAL
 * with err set. */
static int check_fields(const cJSON *o, char *err, size_t errlen) {
  static const char *const known[] = {"cmd",   "service", "instances", "lines", "follow",
                                      "topic", "data",    "signal",    "index", NULL};
  const cJSON *f;
  cJSON_ArrayForEach(f, o) {
    int ok = 0;
    for (int i = 0; known[i] && !ok; i++)
      ok = strcmp(f->string, known[i]) == 0;
    if (!ok) {
      snprintf(err, errlen, "unknown field \"%.40s\"", f->string);
      return UV_EINVAL;
    }
  }
  return 0;
}

/* Reads "cmd" into out->type. Returns 0 or UV_EINVAL with err set. */
static int get_type(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cmd");
  if (!cJSON_IsString(c)) {
    snprintf(err, errlen, "field \"cmd\" (a string) is required");
    return UV_EINVAL;
  }
  if (ctl_cmd_find(c->valuestring, &out->type) != 0) {
    snprintf(err, errlen, "unknown command \"%.40s\"", c->valuestring);
    return UV_EINVAL;
  }
  return 0;
}

/* Reads "service" into out->service, required or not as the command says.
 * Returns 0 or UV_EINVAL with err set. */
static int get_service(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const char *name = cmds[out->type].name;
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "service");
  if (s && (!cJSON_IsString(s) || strlen(s->valuestring) == 0 ||
            strlen(s->valuestring) >= sizeof(out->service))) {
    snprintf(err, errlen, "%s: field \"service\" must be a service name", name);
    return UV_EINVAL;
  }
  if (s)
    snprintf(out->service, sizeof(out->service), "%s", s->valuestring);
  else if (ctl_cmd_service(out->type) == 1) {
    snprintf(err, errlen, "%s: field \"service\" is required", name);
    return UV_EINVAL;
  }
  return 0;
}

/* Reads "instances" written "+N" (N 1..1024), as `pm2 scale app +3`.
 * Returns 1 and sets out, 0 when it is not a string, or UV_EINVAL. */
static int get_added(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "instances");
  if (!cJSON_IsString(v))
    return 0;
  const char *s = v->valuestring;
  int64_t n = 0;
  size_t i = 1;
  for (; s[0] == '+' && s[i] >= '0' && s[i] <= '9' && n <= 1024; i++)
    n = n * 10 + (s[i] - '0');
  if (s[0] != '+' || i == 1 || s[i] != '\0' || n < 1 || n > 1024) {
    snprintf(err, errlen,
             "%s: field \"instances\" must be an integer 0..1024 or \"+N\" (N 1..1024)",
             cmds[out->type].name);
    return UV_EINVAL;
  }
  out->instances = n;
  out->add = 1;
  return 1;
}

/* Reads "lines", "instances" (required by scale) and "follow". Returns 0
 * or UV_EINVAL with err set. */
static int get_options(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const char *name = cmds[out->type].name;
  if (get_int(o, name, "lines", 1, CTL_LINES_MAX, &out->lines, err, errlen) < 0 ||
      get_int(o, name, "index", 0, 1023, &out->index, err, errlen) < 0)
    return UV_EINVAL;
  int has = get_added(o, out, err, errlen);
  if (has == 0)
    has = get_int(o, name, "instances", 0, 1024, &out->instances, err, errlen);
  if (has < 0)
    return UV_EINVAL;
  if (out->type == CTL_SCALE && has == 0) {
    snprintf(err, errlen, "scale: field \"instances\" is required");
    return UV_EINVAL;
  }
  const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "follow");
  if (fl && !cJSON_IsBool(fl)) {
    snprintf(err, errlen, "%s: field \"follow\" must be true or false", name);
    return UV_EINVAL;
  }
  out->follow = cJSON_IsTrue(fl);
  return 0;
}

int ctl_cmd_parse(const char *line, size_t len, struct ctl_cmd *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  out->lines = CTL_LINES_DEFAULT;
  cJSON *o = parse_object(line, len, err, errlen);
  if (o == NULL)
    return UV_EINVAL;
  int rc = UV_EINVAL;
  if (check_fields(o, err, errlen) == 0 && get_type(o, out, err, errlen) == 0 &&
      get_service(o, out, err, errlen) == 0 && get_options(o, out, err, errlen) == 0 &&
      get_publish(o, out, err, errlen) == 0 && get_signal(o, out, err, errlen) == 0)
    rc = 0;
  cJSON_Delete(o);
  return rc;
}
