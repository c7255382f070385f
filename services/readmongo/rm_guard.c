/* rm_guard — allow-list and operator scan. See rm_guard.h. */
#include "rm_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "util_vec.h"

/* ---- Allow-list ---- */

static int is_internal_db(const char *db) {
  return strcmp(db, "admin") == 0 || strcmp(db, "local") == 0 || strcmp(db, "config") == 0;
}

void rm_allow_free(struct rm_allow *a) {
  for (size_t i = 0; i < a->n; i++) {
    free(a->v[i].db);
    free(a->v[i].coll);
  }
  free(a->v);
  a->v = NULL;
  a->n = a->cap = 0;
}

/* Adds one trimmed entry s[0..n). Returns 0, or UV_EINVAL or UV_ENOMEM
 * with err. */
static int add_entry(struct rm_allow *a, const char *s, size_t n, char *err, size_t errlen) {
  struct rm_allow_entry e = {NULL, NULL};
  const char *dot = memchr(s, '.', n);
  if (n == 1 && s[0] == '*') {
    /* any database but the internal ones */
  } else if (dot == NULL || dot == s || dot == s + n - 1) {
    snprintf(err, errlen, "READMONGO_ALLOW: \"%.*s\" is not \"db.collection\", \"db.*\" or \"*\"",
             (int)n, s);
    return UV_EINVAL;
  } else {
    size_t clen = n - (size_t)(dot - s) - 1;
    int any = clen == 1 && dot[1] == '*';
    e.db = strndup(s, (size_t)(dot - s));
    if (!any)
      e.coll = strndup(dot + 1, clen);
    if (e.db == NULL || (!any && e.coll == NULL))
      goto out_oom;
    if (!rm_guard_db_name_ok(e.db) || (e.coll && !rm_guard_coll_name_ok(e.db, e.coll))) {
      snprintf(err, errlen, "READMONGO_ALLOW: \"%.*s\" is not a valid namespace", (int)n, s);
      free(e.db);
      free(e.coll);
      return UV_EINVAL;
    }
  }
  if (util_vec_reserve(&a->v, &a->cap, a->n + 1) != 0)
    goto out_oom;
  a->v[a->n++] = e;
  return 0;
out_oom:
  free(e.db);
  free(e.coll);
  snprintf(err, errlen, "READMONGO_ALLOW: out of memory");
  return UV_ENOMEM;
}

int rm_allow_parse(struct rm_allow *a, const char *spec, char *err, size_t errlen) {
  a->v = NULL;
  a->n = a->cap = 0;
  if (spec == NULL || *spec == '\0')
    spec = "*";
  const char *p = spec;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    const char *s = p;
    while (n > 0 && (*s == ' ' || *s == '\t')) {
      s++;
      n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
      n--;
    int rc = n > 0 ? add_entry(a, s, n, err, errlen) : 0;
    if (rc < 0) {
      rm_allow_free(a);
      return rc;
    }
    p += comma ? (size_t)(comma - p) + 1 : strlen(p);
  }
  if (a->n == 0) {
    snprintf(err, errlen, "READMONGO_ALLOW: \"%s\" names no namespace", spec);
    return UV_EINVAL;
  }
  return 0;
}

int rm_allow_check(const struct rm_allow *a, const char *db, const char *coll) {
  int system = strncmp(coll, "system.", 7) == 0;
  for (size_t i = 0; i < a->n; i++) {
    const struct rm_allow_entry *e = &a->v[i];
    if (e->db == NULL) {
      if (!is_internal_db(db) && !system)
        return 1;
    } else if (strcmp(e->db, db) == 0) {
      if (e->coll == NULL ? !system : strcmp(e->coll, coll) == 0)
        return 1;
    }
  }
  return 0;
}

/* ---- Names ---- */

int rm_guard_db_name_ok(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n < 64 && strpbrk(name, "/\\. \"$") == NULL;
}

int rm_guard_coll_name_ok(const char *db, const char *name) {
  size_t n = strlen(name);
  return n > 0 && name[0] != '.' && strlen(db) + 1 + n < 256 && strchr(name, '$') == NULL;
}

/* ---- Operator scan ---- */

/* Operators refused wherever they appear, and why. */
static const struct {
  const char *op;
  const char *why;
} refused[] = {
    {"$out", "writes are not allowed"},
    {"$merge", "writes are not allowed"},
    {"$where", "server-side JavaScript is not allowed"},
    {"$function", "server-side JavaScript is not allowed"},
    {"$accumulator", "server-side JavaScript is not allowed"},
    {"$changeStream", "change streams are not supported"},
};

/* Scan state: where we are, for messages. */
struct scan {
  const struct rm_allow *allow;
  const char *db;
  struct rm_err *err;
  char path[256]; /* "pipeline.1.$lookup.pipeline.0" */
};

static int scan_doc(struct scan *s, bson_iter_t *it, int depth);

/* Checks that the pipeline may read coll (a stage's "from"/"coll"). */
static int check_from(struct scan *s, const char *stage, const char *coll) {
  if (!rm_guard_coll_name_ok(s->db, coll))
    return rm_err_set(s->err, 400, "%s: %s reads \"%s\", not a valid collection name", s->path,
                      stage, coll);
  if (!rm_allow_check(s->allow, s->db, coll))
    return rm_err_set(s->err, 403, "%s: %s reads namespace %s.%s, which is not allowed", s->path,
                      stage, s->db, coll);
  return 0;
}

/* A $lookup / $graphLookup / $unionWith value: the collections it reads. */
static int check_stage(struct scan *s, const char *stage, const bson_iter_t *val) {
  const char *field = strcmp(stage, "$unionWith") == 0 ? "coll" : "from";
  if (BSON_ITER_HOLDS_UTF8(val) && strcmp(stage, "$unionWith") == 0)
    return check_from(s, stage, bson_iter_utf8(val, NULL));
  if (!BSON_ITER_HOLDS_DOCUMENT(val))
    return 0; /* malformed: the server refuses it */
  bson_iter_t sub, f;
  if (!bson_iter_recurse(val, &sub) || !bson_iter_find(&sub, field))
    return 0;
  f = sub;
  if (BSON_ITER_HOLDS_UTF8(&f))
    return check_from(s, stage, bson_iter_utf8(&f, NULL));
  if (BSON_ITER_HOLDS_DOCUMENT(&f)) /* {db, coll}: another database */
    return rm_err_set(s->err, 403, "%s: %s from another database is not allowed", s->path, stage);
  return 0;
}

static int scan_doc(struct scan *s, bson_iter_t *it, int depth) {
  size_t base = strlen(s->path);
  if (depth > 200)
    return rm_err_set(s->err, 400, "%s: nested too deeply", s->path);
  while (bson_iter_next(it)) {
    const char *key = bson_iter_key(it);
    snprintf(s->path + base, sizeof(s->path) - base, ".%s", key);
    if (key[0] == '$') {
      for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (strcmp(key, refused[i].op) == 0)
          return rm_err_set(s->err, 400, "%s: %s is refused: %s", s->path, key, refused[i].why);
      if ((strcmp(key, "$lookup") == 0 || strcmp(key, "$graphLookup") == 0 ||
           strcmp(key, "$unionWith") == 0) &&
          check_stage(s, key, it) < 0)
        return UV_EINVAL;
    }
    if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) {
      bson_iter_t sub;
      if (bson_iter_recurse(it, &sub) && scan_doc(s, &sub, depth + 1) < 0)
        return UV_EINVAL;
    }
  }
  s->path[base] = '\0';
  return 0;
}

int rm_guard_scan(const bson_t *doc, const char *what, const struct rm_allow *a, const char *db,
                  struct rm_err *err) {
  struct scan s = {a, db, err, ""};
  bson_iter_t it;
  snprintf(s.path, sizeof(s.path), "%s", what);
  if (!bson_iter_init(&it, doc))
    return rm_err_set(err, 400, "%s: invalid BSON", what);
  return scan_doc(&s, &it, 0);
}
