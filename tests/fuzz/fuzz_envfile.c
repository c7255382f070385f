/* fuzz_envfile — environment files (cfg_envfile_parse, services[].env_file).
 *
 * Checks: nothing crashes or leaks; a refusal says why and names a line of
 * the text; an accepted file gives distinct valid names
 * ([A-Za-z_][A-Za-z0-9_]*) and values without NUL; writing the result back
 * with every value in double quotes (\" \\ \` \$ escaped) parses to the
 * same variables. */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"

/* 1 when s is [A-Za-z_][A-Za-z0-9_]*. */
static int valid_name(const char *s) {
  size_t n = strlen(s);
  return n > 0 && !(s[0] >= '0' && s[0] <= '9') &&
         strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Writes vars back as NAME="value" lines (malloc'd, *len bytes). */
static char *encode(const struct cfg_env_var *v, size_t n, size_t *len) {
  size_t cap = 1;
  for (size_t i = 0; i < n; i++)
    cap += strlen(v[i].name) + 2 * strlen(v[i].value) + 4;
  char *out = malloc(cap), *w = out;
  FUZZ_CHECK(out != NULL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    w += sprintf(w, "%s=\"", v[i].name);
    for (const char *c = v[i].value; *c; c++) {
      if (strchr("\"\\`$", *c))
        *w++ = '\\';
      *w++ = *c;
    }
    *w++ = '"';
    *w++ = '\n';
  }
  *len = (size_t)(w - out);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  struct cfg_env_var *v = NULL, *again = NULL;
  size_t n = 0, n2 = 0, len, lines = 1;
  char err[200] = "";
  int line = -1;
  for (size_t i = 0; i < size; i++)
    lines += text[i] == '\n';
  if (cfg_envfile_parse(text, size, &v, &n, &line, err, sizeof(err)) != 0) {
    FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
    FUZZ_CHECK(line >= 1 && (size_t)line <= lines, "line %d of %zu", line, lines);
    FUZZ_CHECK(v == NULL && n == 0, "a refusal with a result");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(valid_name(v[i].name), "name \"%s\"", v[i].name);
    FUZZ_CHECK(v[i].value != NULL, "%s: no value", v[i].name);
    for (size_t k = 0; k < i; k++)
      FUZZ_CHECK(strcmp(v[i].name, v[k].name) != 0, "%s twice", v[i].name);
  }
  char *back = encode(v, n, &len);
  FUZZ_CHECK(cfg_envfile_parse(back, len, &again, &n2, &line, err, sizeof(err)) == 0,
             "the result written back is refused: line %d: %s\n%.*s", line, err, (int)len, back);
  FUZZ_CHECK(n2 == n, "%zu variables, then %zu", n, n2);
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK(strcmp(v[i].name, again[i].name) == 0 && strcmp(v[i].value, again[i].value) == 0,
               "%s=\"%s\" read back as %s=\"%s\"", v[i].name, v[i].value, again[i].name,
               again[i].value);
  free(back);
  cfg_env_vars_free(v, n);
  cfg_env_vars_free(again, n2);
  return 0;
}
