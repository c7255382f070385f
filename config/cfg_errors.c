/* cfg_errors — the list of problems a config load found. See cfg.h. */
#include "cfg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Makes e an empty list. */
void cfg_errors_init(struct cfg_errors *e) {
  memset(e, 0, sizeof(*e));
}

/* Frees every message and leaves e empty. */
void cfg_errors_free(struct cfg_errors *e) {
  for (size_t i = 0; i < e->count; i++)
    free(e->lines[i]);
  free(e->lines);
  memset(e, 0, sizeof(*e));
}

/* Stores line (taking ownership) at the end of e; sets e->oom on failure. */
static void push(struct cfg_errors *e, char *line) {
  if (e->count == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    char **nl = realloc(e->lines, cap * sizeof(*nl));
    if (nl == NULL) {
      free(line);
      e->oom = 1;
      return;
    }
    e->lines = nl;
    e->cap = cap;
  }
  e->lines[e->count++] = line;
}

/* Formats one message and appends it, without control characters. */
void cfg_errors_add(struct cfg_errors *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *line = n < 0 ? NULL : malloc((size_t)n + 1);
  if (line == NULL) {
    e->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(line, (size_t)n + 1, fmt, ap);
  va_end(ap);
  for (char *p = line; *p; p++) /* keep "one problem per line" true */
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = '?';
  push(e, line);
}

/* Writes the messages to f, one per line. */
void cfg_errors_print(const struct cfg_errors *e, FILE *f) {
  for (size_t i = 0; i < e->count; i++)
    fprintf(f, "%s\n", e->lines[i]);
  if (e->oom)
    fprintf(f, "out of memory\n");
}

/* Returns the messages joined by sep (malloc'd), or NULL. */
char *cfg_errors_join(const struct cfg_errors *e, const char *sep) {
  size_t seplen = strlen(sep), len = 0;
  const char *oom = "out of memory";
  for (size_t i = 0; i < e->count; i++)
    len += strlen(e->lines[i]) + seplen;
  if (e->oom)
    len += strlen(oom) + seplen;
  char *s = malloc(len + 1), *p = s;
  if (s == NULL)
    return NULL;
  for (size_t i = 0; i <= e->count; i++) {
    const char *line = i < e->count ? e->lines[i] : e->oom ? oom : NULL;
    if (line == NULL)
      break;
    if (i > 0) {
      memcpy(p, sep, seplen);
      p += seplen;
    }
    size_t n = strlen(line);
    memcpy(p, line, n);
    p += n;
  }
  *p = '\0';
  return s;
}
