/* cfg_static — static[]: directories muster serves as files itself.
 *
 *   "static": [{"prefix": "/", "root": "public", "host": "www.example.com",
 *               "index": "index.html", "fallback": "index.html",
 *               "max_age_s": 3600, "dotfiles": false, "precompressed": true}]
 *
 * prefix and host are a route's (cfg_route.c), and share its table: a
 * static prefix+host that a service's route (or an earlier static entry)
 * claims is refused. root is resolved against the config's directory and
 * must be a directory when the config is read: a typo fails the check,
 * not every request. index is a file name; fallback a path under root. */
#include "cfg_schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const static_keys[] = {
    "prefix", "host", "root", "index", "fallback", "max_age_s", "dotfiles", "precompressed", NULL};

static const struct cfg__int_field static_ints[] = {
    {"max_age_s", offsetof(struct cfg_static, max_age_s), sizeof(int), 0, 0, 31536000, 1},
    {NULL, 0, 0, 0, 0, 0, 0}};

/* Why the relative path p (segments joined by '/') cannot name a file
 * under root, or NULL: empty, or a segment "." or "..". */
static const char *bad_relative(const char *p) {
  if (*p == '\0')
    return "is empty";
  for (const char *s = p; *s;) {
    size_t n = strcspn(s, "/");
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return "must not have \".\" or \"..\" segments: it names a file under root";
    s += n + (s[n] == '/');
  }
  return NULL;
}

/* Reads root: required, a directory now. */
static void read_root(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_static *st) {
  char p[CFG__PATH_MAX];
  struct stat sb;
  cfg__join(p, sizeof(p), path, "root");
  if (cJSON_GetObjectItemCaseSensitive(obj, "root") == NULL) {
    cfg__err(x, p, "required: the directory whose files are served");
    return;
  }
  if (cfg__get_path(x, obj, path, "root", NULL, &st->root) != 0 || st->root == NULL)
    return;
  if (st->root[0] == '\0')
    cfg__err(x, p, "must not be empty");
  else if (stat(st->root, &sb) != 0)
    cfg__err(x, p, "%s: %s", st->root, strerror(errno));
  else if (!S_ISDIR(sb.st_mode))
    cfg__err(x, p, "%s is not a directory", st->root);
}

/* Reads index (a file name; "" for none) and fallback (a path under root,
 * a leading '/' dropped as nginx's try_files writes it). */
static void read_files(struct cfg__ctx *x, const cJSON *obj, const char *path,
                       struct cfg_static *st) {
  char p[CFG__PATH_MAX];
  const char *why = NULL;
  if (cfg__get_string(x, obj, path, "index", "index.html", &st->index) == 0 && st->index) {
    cfg__join(p, sizeof(p), path, "index");
    if (st->index[0] == '\0') {
      free(st->index);
      st->index = NULL; /* no index: a directory's URL is 404 */
    } else if (strchr(st->index, '/') != NULL || (why = bad_relative(st->index)) != NULL) {
      cfg__err(x, p, "\"%s\" must be a file name (no '/', not \".\" or \"..\")", st->index);
    }
  }
  if (cfg__get_string(x, obj, path, "fallback", NULL, &st->fallback) == 0 && st->fallback) {
    size_t lead = strspn(st->fallback, "/");
    memmove(st->fallback, st->fallback + lead, strlen(st->fallback + lead) + 1);
    cfg__join(p, sizeof(p), path, "fallback");
    if ((why = bad_relative(st->fallback)) != NULL)
      cfg__err(x, p, "\"%s\" %s", st->fallback, why);
  }
}

static void parse_one(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_static *st) {
  char p[CFG__PATH_MAX];
  if (cfg__check_object(x, obj, path, static_keys) != 0)
    return;
  const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(obj, "prefix");
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(obj, "host");
  cfg__join(p, sizeof(p), path, "prefix");
  if (prefix == NULL)
    cfg__err(x, p, "required");
  else
    cfg__route_prefix(x, prefix, p, &st->route);
  if (host != NULL) {
    cfg__join(p, sizeof(p), path, "host");
    cfg__route_host(x, host, p, &st->route);
  }
  read_root(x, obj, path, st);
  read_files(x, obj, path, st);
  cfg__read_ints(x, obj, path, static_ints, st);
  cfg__get_bool(x, obj, path, "dotfiles", 0, &st->dotfiles);
  cfg__get_bool(x, obj, path, "precompressed", 0, &st->precompressed);
}

/* Reports static[t] when a service's route or an earlier static entry
 * claims its prefix and host. */
static void check_conflicts(struct cfg__ctx *x, const struct cfg *c, size_t t) {
  const struct cfg_route *r = &c->statics[t].route;
  char p[CFG__PATH_MAX];
  snprintf(p, sizeof(p), "static[%zu].prefix", t);
  for (size_t i = 0; i < c->nservices; i++)
    for (size_t j = 0; j < c->services[i].nroutes; j++)
      if (cfg__same_route(r, &c->services[i].routes[j])) {
        cfg__err(x, p, "\"%s\"%s%s is also a route of \"%s\" (services[%zu].routes[%zu])",
                 r->prefix, r->host ? " for host " : "", r->host ? r->host : "",
                 c->services[i].name ? c->services[i].name : "?", i, j);
        return;
      }
  for (size_t o = 0; o < t; o++)
    if (cfg__same_route(r, &c->statics[o].route)) {
      cfg__err(x, p, "\"%s\"%s%s is also static[%zu]'s", r->prefix, r->host ? " for host " : "",
               r->host ? r->host : "", o);
      return;
    }
}

void cfg__parse_static(struct cfg__ctx *x, const cJSON *root, struct cfg *c) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "static");
  if (v == NULL)
    return;
  if (!cJSON_IsArray(v)) {
    cfg__err(x, "static", "must be an array, got %s", cfg__type_name(v));
    return;
  }
  int n = cJSON_GetArraySize(v);
  if (n == 0)
    return;
  if ((c->statics = calloc((size_t)n, sizeof(*c->statics))) == NULL) {
    cfg__err(x, "static", "out of memory");
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next) {
    struct cfg_static *st = &c->statics[c->nstatics++];
    cfg__join_index(p, sizeof(p), "static", c->nstatics - 1);
    parse_one(x, it, p, st);
  }
  for (size_t t = 0; t < c->nstatics; t++)
    check_conflicts(x, c, t);
}

void cfg__static_free(struct cfg *c) {
  for (size_t t = 0; t < c->nstatics; t++) {
    struct cfg_static *st = &c->statics[t];
    free(st->route.prefix);
    free(st->route.host);
    free(st->root);
    free(st->index);
    free(st->fallback);
  }
  free(c->statics);
}
