/* cfg_watch — services[].watch, watch_ignore and watch_delay_ms: restart
 * a service when its files change, as PM2's watch does (for development).
 *
 *   "watch": true                      the service's cwd
 *   "watch": ["src", "/etc/app.conf"]  files and directories (relative to
 *                                      cwd), each of which must exist
 *   "watch_ignore": ["*.tmp"]          names never looked at (fnmatch(3));
 *                                      default: dot files, "*~", "*.log",
 *                                      node_modules
 *   "watch_delay_ms": 1000             first change to restart */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg_schema.h"

static const char *const default_ignore[] = {".*", "*~", "*.log", "node_modules", NULL};

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

void cfg__watch_free(struct cfg_watch *w) {
  free_list(w->paths, w->npaths);
  free_list(w->ignore, w->nignore);
  memset(w, 0, sizeof(*w));
}

static int list_eq(char *const *a, size_t n, char *const *b, size_t m) {
  if (n != m)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(a[i], b[i]) != 0)
      return 0;
  return 1;
}

int cfg__watch_equal(const struct cfg_watch *a, const struct cfg_watch *b) {
  return list_eq(a->paths, a->npaths, b->paths, b->npaths) &&
         list_eq(a->ignore, a->nignore, b->ignore, b->nignore) && a->delay_ms == b->delay_ms;
}

/* Appends a copy of s to *v (NULL-terminated, *n entries). Returns 0 or -1. */
static int push(char ***v, size_t *n, const char *s) {
  char **g = realloc(*v, (*n + 2) * sizeof(**v));
  if (g == NULL)
    return -1;
  *v = g;
  if ((g[*n] = strdup(s)) == NULL)
    return -1;
  g[++*n] = NULL;
  return 0;
}

/* One entry of "watch": a path against the service's cwd, which must exist. */
static void read_path(struct cfg__ctx *x, const cJSON *it, const char *p, struct cfg_service *s) {
  char *rel = NULL, *abs;
  struct stat st;
  if (cfg__string(x, it, p, &rel) != 0)
    return;
  if (rel[0] == '\0') {
    cfg__err(x, p, "must not be empty");
  } else if ((abs = cfg_path_resolve(s->cwd, rel)) == NULL) {
    cfg__err(x, p, "out of memory");
  } else {
    if (stat(abs, &st) != 0)
      cfg__err(x, p, "\"%s\": %s", abs, strerror(errno));
    else if (push(&s->watch.paths, &s->watch.npaths, abs) != 0)
      cfg__err(x, p, "out of memory");
    free(abs);
  }
  free(rel);
}

/* "watch": true, false, or an array of paths. */
static void read_paths(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_service *s) {
  char pi[CFG__PATH_MAX];
  size_t i = 0;
  if (cJSON_IsBool(v)) {
    if (cJSON_IsTrue(v) && push(&s->watch.paths, &s->watch.npaths, s->cwd) != 0)
      cfg__err(x, p, "out of memory");
    return;
  }
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
    cfg__err(x, p, "must be true, false or a non-empty array of paths, got %s",
             cJSON_IsArray(v) ? "an empty array" : cfg__type_name(v));
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    cfg__join_index(pi, sizeof(pi), p, i);
    read_path(x, it, pi, s);
  }
}

/* "watch_ignore": names (patterns without '/'), or the defaults. */
static void read_ignore(struct cfg__ctx *x, const cJSON *v, const char *p, struct cfg_watch *w) {
  char pi[CFG__PATH_MAX], *pat;
  size_t i = 0;
  if (v == NULL) {
    for (size_t k = 0; default_ignore[k] != NULL; k++)
      if (push(&w->ignore, &w->nignore, default_ignore[k]) != 0)
        cfg__err(x, p, "out of memory");
    return;
  }
  if (!cJSON_IsArray(v)) {
    cfg__err(x, p, "must be an array of name patterns, got %s", cfg__type_name(v));
    return;
  }
  for (const cJSON *it = v->child; it != NULL; it = it->next, i++) {
    cfg__join_index(pi, sizeof(pi), p, i);
    if (cfg__string(x, it, pi, &pat) != 0)
      continue;
    if (pat[0] == '\0' || strchr(pat, '/') != NULL)
      cfg__err(x, pi,
               "\"%s\": a pattern matches one name (\"node_modules\", \"*.tmp\"), "
               "so it must be non-empty and without '/'",
               pat);
    else if (push(&w->ignore, &w->nignore, pat) != 0)
      cfg__err(x, pi, "out of memory");
    free(pat);
  }
}

void cfg__parse_watch(struct cfg__ctx *x, const cJSON *obj, const char *path,
                      struct cfg_service *s) {
  char p[CFG__PATH_MAX];
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "watch");
  const cJSON *ign = cJSON_GetObjectItemCaseSensitive(obj, "watch_ignore");
  const cJSON *delay = cJSON_GetObjectItemCaseSensitive(obj, "watch_delay_ms");
  if (v != NULL && s->cwd != NULL) {
    cfg__join(p, sizeof(p), path, "watch");
    read_paths(x, v, p, s);
  }
  if (s->watch.npaths == 0 && (ign != NULL || delay != NULL)) {
    cfg__join(p, sizeof(p), path, ign != NULL ? "watch_ignore" : "watch_delay_ms");
    cfg__err(x, p, "needs \"watch\"");
    return;
  }
  if (s->watch.npaths == 0)
    return;
  cfg__join(p, sizeof(p), path, "watch_ignore");
  read_ignore(x, ign, p, &s->watch);
  double ms = 1000;
  cfg__get_number(x, obj, path, "watch_delay_ms", 1000, 0, 600000, &ms);
  s->watch.delay_ms = (int)ms; /* a fraction of a millisecond is dropped */
}
