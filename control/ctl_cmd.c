/* ctl_cmd — control request parsing. See ctl_cmd.h. */
#include "ctl_cmd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static const struct {
  const char *name;
  int needs_service;
} cmds[] = {
    [CTL_NONE] = {"?", 0},
#define XX(e, s, svc) [CTL_##e] = {s, svc},
    CTL_CMD_MAP(XX)
#undef XX
};

const char *ctl_cmd_name(enum ctl_cmd_type t) {
  return cmds[t].name;
}

/* Reads an optional integer field within [min, max]. */
static int get_int(const cJSON *o, const char *cmd, const char *name, int64_t min, int64_t max,
                   int64_t *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (v == NULL)
    return 0;
  double d = v->valuedouble;
  if (!cJSON_IsNumber(v) || d != floor(d) || d < (double)min || d > (double)max) {
    snprintf(err, errlen, "%s: field \"%s\" must be an integer %lld..%lld", cmd, name,
             (long long)min, (long long)max);
    return -1;
  }
  *out = (int64_t)d;
  return 1;
}

/* publish: a room ("topic") and a text ("data"), both strings. */
static int get_publish(const cJSON *o, struct ctl_cmd *out, char *err, size_t errlen) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "topic");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
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

int ctl_cmd_parse(const char *line, size_t len, struct ctl_cmd *out, char *err, size_t errlen) {
  static const char *const known[] = {"cmd",    "service", "instances", "lines",
                                      "follow", "topic",   "data",      NULL};
  const char *end = NULL;
  int rc = -1;
  memset(out, 0, sizeof(*out));
  out->lines = CTL_LINES_DEFAULT;
  cJSON *o = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (o == NULL) {
    snprintf(err, errlen, "invalid JSON near offset %zu", end ? (size_t)(end - line) : (size_t)0);
    return -1;
  }
  for (const char *q = end; q < line + len; q++) { /* one request per line */
    if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') {
      snprintf(err, errlen, "invalid JSON near offset %zu: trailing data", (size_t)(q - line));
      goto out;
    }
  }
  if (!cJSON_IsObject(o)) {
    snprintf(err, errlen, "a request is a JSON object like {\"cmd\":\"status\"}");
    goto out;
  }
  const cJSON *f;
  cJSON_ArrayForEach(f, o) {
    int ok = 0;
    for (int i = 0; known[i] && !ok; i++)
      ok = strcmp(f->string, known[i]) == 0;
    if (!ok) {
      snprintf(err, errlen, "unknown field \"%.40s\"", f->string);
      goto out;
    }
  }
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "cmd");
  if (!cJSON_IsString(c)) {
    snprintf(err, errlen, "field \"cmd\" (a string) is required");
    goto out;
  }
  for (int t = CTL_NONE + 1; t <= CTL_VERSION; t++)
    if (strcmp(c->valuestring, cmds[t].name) == 0)
      out->type = (enum ctl_cmd_type)t;
  if (out->type == CTL_NONE) {
    snprintf(err, errlen, "unknown command \"%.40s\"", c->valuestring);
    goto out;
  }
  const char *name = cmds[out->type].name;
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "service");
  if (s && (!cJSON_IsString(s) || strlen(s->valuestring) == 0 ||
            strlen(s->valuestring) >= sizeof(out->service))) {
    snprintf(err, errlen, "%s: field \"service\" must be a service name", name);
    goto out;
  }
  if (s)
    snprintf(out->service, sizeof(out->service), "%s", s->valuestring);
  else if (cmds[out->type].needs_service == 1) {
    snprintf(err, errlen, "%s: field \"service\" is required", name);
    goto out;
  }
  if (get_int(o, name, "lines", 1, CTL_LINES_MAX, &out->lines, err, errlen) < 0)
    goto out;
  int has = get_int(o, name, "instances", 0, 1024, &out->instances, err, errlen);
  if (has < 0)
    goto out;
  if (out->type == CTL_SCALE && has == 0) {
    snprintf(err, errlen, "scale: field \"instances\" is required");
    goto out;
  }
  const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "follow");
  if (fl && !cJSON_IsBool(fl)) {
    snprintf(err, errlen, "%s: field \"follow\" must be true or false", name);
    goto out;
  }
  out->follow = cJSON_IsTrue(fl);
  if (out->type == CTL_PUBLISH && get_publish(o, out, err, errlen) != 0)
    goto out;
  rc = 0;
out:
  cJSON_Delete(o);
  return rc;
}
