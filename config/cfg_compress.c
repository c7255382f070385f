/* cfg_compress — gateway.compression: gzip on the fly.
 *
 *   "compression": {"level": 5, "min_bytes": 1024,
 *                   "types": ["text/html", "application/json", "text/[star]"]}
 *
 * {} takes the defaults. A type is a media type without parameters, or
 * "major/" and a star (every subtype; written [star] here, as C comments
 * cannot hold it); text/event-stream is never compressed (a stream of events
 * must reach the client as each is written). */
#include <stdlib.h>
#include <string.h>

#include "cfg_schema.h"

static const char *const compression_keys[] = {"level", "min_bytes", "types", NULL};

/* What nginx's gzip_types and Caddy's encode take by default, and the
 * other text formats of the web. */
static const char *const default_types[] = {"text/html",
                                            "text/css",
                                            "text/plain",
                                            "text/javascript",
                                            "text/xml",
                                            "text/csv",
                                            "text/markdown",
                                            "application/javascript",
                                            "application/json",
                                            "application/xml",
                                            "application/manifest+json",
                                            "application/wasm",
                                            "image/svg+xml",
                                            NULL};

/* 1 when s is "type/subtype", or "type/" and a star, in token characters. */
static int media_type_ok(const char *s) {
  const char *slash = strchr(s, '/');
  if (slash == NULL || slash == s || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
    return 0;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("!#$&^_.+-/*", *c)))
      return 0;
  return strchr(s, '*') == NULL || strcmp(slash + 1, "*") == 0;
}

static int add_type(struct cfg__ctx *x, const char *path, struct cfg_compression *c,
                    const char *t) {
  char *copy = strdup(t);
  if (copy == NULL) {
    cfg__err(x, path, "out of memory");
    return -1;
  }
  for (char *p = copy; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  if (!media_type_ok(copy)) {
    cfg__err(x, path, "\"%s\" is not a media type (\"text/html\", \"text/*\")", t);
    free(copy);
    return -1;
  }
  c->types[c->ntypes++] = copy;
  return 0;
}

/* Reads types (an array of media types) or takes the defaults. */
static void read_types(struct cfg__ctx *x, const cJSON *v, struct cfg_compression *c) {
  char p[CFG__PATH_MAX];
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(v, "types");
  size_t n = 0;
  if (a != NULL && !cJSON_IsArray(a)) {
    cfg__err(x, "gateway.compression.types", "must be an array of media types, got %s",
             cfg__type_name(a));
    return;
  }
  while (a == NULL && default_types[n])
    n++;
  n = a ? (size_t)cJSON_GetArraySize(a) : n;
  if (n == 0 || (c->types = calloc(n, sizeof(*c->types))) == NULL) {
    if (n > 0)
      cfg__err(x, "gateway.compression.types", "out of memory");
    return;
  }
  for (size_t i = 0; a == NULL && i < n; i++)
    add_type(x, "gateway.compression.types", c, default_types[i]);
  size_t i = 0;
  for (const cJSON *it = a ? a->child : NULL; it != NULL; it = it->next, i++) {
    char *s = NULL;
    cfg__join_index(p, sizeof(p), "gateway.compression.types", i);
    if (cfg__string(x, it, p, &s) == 0)
      add_type(x, p, c, s);
    free(s);
  }
}

void cfg__parse_compression(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g) {
  struct cfg_compression *c = &g->compression;
  double level = 5, min = 1024;
  if (v == NULL || cJSON_IsNull(v) ||
      cfg__check_object(x, v, "gateway.compression", compression_keys) != 0)
    return;
  c->enabled = 1;
  cfg__get_number(x, v, "gateway.compression", "level", 5, 1, 9, &level);
  cfg__get_number(x, v, "gateway.compression", "min_bytes", 1024, 0, 1073741824, &min);
  if (level != (double)(int)level)
    cfg__err(x, "gateway.compression.level", "must be a whole number 1..9, got %g", level);
  c->level = (int)level;
  c->min_bytes = (int64_t)min;
  read_types(x, v, c);
}
