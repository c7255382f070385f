/* cfg_expand — ${VAR} and ${VAR:-default} in config strings. See cfg.h.
 *
 * The rules are docker-compose's, minus what the SPEC does not ask for:
 *   ${VAR}          the value of VAR; an error when VAR is unset (a typo must
 *                   not silently become ""); set but empty gives ""
 *   ${VAR:-text}    VAR's value when set and non-empty, else text, which is
 *                   itself expanded (only when used)
 *   $$              a literal '$'  ("$${X}" gives "${X}")
 *   $ otherwise     stays as it is ("$HOME", "a$", "5$/h": no expansion)
 * Names are [A-Za-z_][A-Za-z0-9_]*. */
#include "cfg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The state of one expansion. */
struct exp {
  cfg_getenv_fn getenv; /* variable lookup, may be NULL */
  void *getenv_ctx;     /* its context */
  char *buf;            /* output so far, owned */
  size_t len;           /* bytes used in buf */
  size_t cap;           /* bytes allocated in buf */
  int discard;          /* > 0 inside a default that is not used */
  char *err;            /* where the reason goes */
  size_t errlen;        /* size of err */
};

/* Records a printf-formatted reason and returns -1. */
static int fail(struct exp *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct exp *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (e->errlen > 0)
    vsnprintf(e->err, e->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Appends n bytes to the output unless discarding. Returns 0 or -1. */
static int add(struct exp *e, const char *s, size_t n) {
  if (e->discard)
    return 0;
  if (e->len + n + 1 > e->cap) {
    size_t cap = e->cap ? e->cap : 64;
    while (cap < e->len + n + 1)
      cap *= 2;
    char *nb = realloc(e->buf, cap);
    if (nb == NULL)
      return fail(e, "out of memory");
    e->buf = nb;
    e->cap = cap;
  }
  memcpy(e->buf + e->len, s, n);
  e->len += n;
  e->buf[e->len] = '\0';
  return 0;
}

/* Returns the value of the n-byte variable name, or NULL when unset. */
static const char *lookup(struct exp *e, const char *name, size_t n) {
  char tmp[256];
  if (e->getenv == NULL || n >= sizeof(tmp))
    return NULL;
  memcpy(tmp, name, n);
  tmp[n] = '\0';
  return e->getenv(e->getenv_ctx, tmp);
}

static int expand_text(struct exp *e, const char *s, size_t *i, int nested);

/* Expands one reference; *i is just past "${". Returns 0 or -1. */
static int expand_ref(struct exp *e, const char *s, size_t *i) {
  size_t start = *i, n = 0;
  const char *name = s + start;
  if ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_') {
    n = 1;
    while ((name[n] >= 'A' && name[n] <= 'Z') || (name[n] >= 'a' && name[n] <= 'z') ||
           (name[n] >= '0' && name[n] <= '9') || name[n] == '_')
      n++;
  }
  if (n == 0)
    return fail(e, "invalid variable name after \"${\"");
  if (n > 255)
    return fail(e, "variable name too long");
  const char *val = lookup(e, name, n);
  *i = start + n;
  if (s[*i] == '}') {
    (*i)++;
    if (val == NULL && !e->discard)
      return fail(e,
                  "undefined variable \"%.*s\" (write ${%.*s:-default} "
                  "for a default)",
                  (int)n, name, (int)n, name);
    return val ? add(e, val, strlen(val)) : 0;
  }
  if (s[*i] == ':' && s[*i + 1] == '-') {
    *i += 2;
    int use_default = val == NULL || val[0] == '\0';
    if (!use_default && add(e, val, strlen(val)) != 0)
      return -1;
    e->discard += !use_default;
    int rc = expand_text(e, s, i, 1);
    e->discard -= !use_default;
    if (rc != 0)
      return rc;
    (*i)++; /* the closing '}' that expand_text stopped at */
    return 0;
  }
  if (s[*i] == '\0')
    return fail(e, "unterminated \"${\"");
  return fail(e,
              "invalid \"${%.*s%c\": expected \"}\" or \":-\" after the "
              "variable name",
              (int)n, name, s[*i]);
}

/* Expands s from *i to the end, or, when nested, to the '}' closing a
 * default (left at *i). Returns 0 or -1. */
static int expand_text(struct exp *e, const char *s, size_t *i, int nested) {
  for (;;) {
    size_t run = strcspn(s + *i, nested ? "$}" : "$");
    if (add(e, s + *i, run) != 0)
      return -1;
    *i += run;
    char c = s[*i];
    if (c == '\0')
      return nested ? fail(e, "unterminated \"${\"") : 0;
    if (c == '}')
      return 0;
    if (s[*i + 1] == '$') { /* "$$" */
      if (add(e, "$", 1) != 0)
        return -1;
      *i += 2;
    } else if (s[*i + 1] == '{') {
      *i += 2;
      if (expand_ref(e, s, i) != 0)
        return -1;
    } else { /* a lone '$' */
      if (add(e, "$", 1) != 0)
        return -1;
      *i += 1;
    }
  }
}

/* Expands every ${...} of in into *out. Returns 0 or -1 (reason in err). */
int cfg_expand(const char *in, cfg_getenv_fn get_var, void *get_ctx, char **out, char *err,
               size_t errlen) {
  struct exp e = {get_var, get_ctx, NULL, 0, 0, 0, err, errlen};
  size_t i = 0;
  *out = NULL;
  if (expand_text(&e, in, &i, 0) != 0 || add(&e, "", 0) != 0) {
    free(e.buf);
    return -1;
  }
  *out = e.buf;
  return 0;
}
