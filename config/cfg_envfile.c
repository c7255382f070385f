/* cfg_envfile — environment files (services[].env_file), systemd's
 * EnvironmentFile= syntax. See cfg.h for the rules; the parser is pure
 * (tests/unit/test_cfg_envfile.c, tests/fuzz/fuzz_envfile.c) and
 * cfg_envfile_read() adds the file read.
 *
 * The states follow systemd's parse_env_file_internal (src/basic/
 * env-file.c): a quote opens only as the first character of a value (or
 * right after a closing quote), so `a"b"` is the three characters a"b";
 * unquoted, a backslash keeps the next character and a backslash-newline
 * joins lines; in double quotes only \" \\ \` \$ and the newline are
 * escapes (any other backslash stays); single quotes keep everything.
 * Where systemd only warns and skips a line (no '=', a name that is not
 * [A-Za-z_][A-Za-z0-9_]*, "export NAME=..."), or silently takes an
 * unterminated quote to the end of the file, muster refuses the file and
 * names the line: a typo must not become a missing variable. */
#include "cfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define MAX_ENV_FILE_BYTES (1024 * 1024)
#define DQ_ESCAPES "\"\\`$" /* what a backslash escapes in double quotes */

enum st { PRE_KEY, KEY, PRE_VALUE, VALUE, VALUE_ESC, SQ, DQ, DQ_ESC, COMMENT };

struct envp {
  enum st st;
  int line;        /* the line being read, from 1 */
  int key_line;    /* where the current assignment began */
  int quote_line;  /* where the open quote began */
  char *key, *val; /* the assignment being read (malloc'd) */
  size_t nkey, nval, capk, capv;
  size_t val_keep;          /* val's length without trailing blanks */
  struct cfg_env_var *vars; /* the result so far */
  size_t nvars, capvars;
  char *err;
  size_t errlen;
  int bad_line; /* the line of the problem */
  int failed;
};

/* Records the first problem, at line. Returns -1. */
static int fail(struct envp *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct envp *p, int line, const char *fmt, ...) {
  va_list ap;
  if (p->failed++)
    return -1;
  p->bad_line = line;
  va_start(ap, fmt);
  vsnprintf(p->err, p->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Appends c to *buf (n used, *cap allocated). Returns 0 or -1. */
static int append(char **buf, size_t *n, size_t *cap, char c) {
  if (*n + 1 >= *cap) {
    size_t nc = *cap ? *cap * 2 : 32;
    char *nb = realloc(*buf, nc);
    if (nb == NULL)
      return -1;
    *buf = nb;
    *cap = nc;
  }
  (*buf)[(*n)++] = c;
  (*buf)[*n] = '\0';
  return 0;
}

/* Appends c to the value being read. Returns 0 or -1. */
static int add_val(struct envp *p, char c) {
  if (append(&p->val, &p->nval, &p->capv, c) != 0)
    return fail(p, p->line, "out of memory");
  return 0;
}

/* 1 when name is [A-Za-z_][A-Za-z0-9_]* (what systemd accepts). */
static int name_ok(const char *s) {
  if (s == NULL || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
    return 0;
  for (; *s; s++)
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9')))
      return 0;
  return 1;
}

/* Checks the name read, trimmed of trailing blanks. Returns 0 or -1. */
static int check_key(struct envp *p) {
  while (p->nkey > 0 &&
         (p->key[p->nkey - 1] == ' ' || p->key[p->nkey - 1] == '\t' || p->key[p->nkey - 1] == '\r'))
    p->key[--p->nkey] = '\0';
  if (strncmp(p->key, "export", 6) == 0 && (p->key[6] == ' ' || p->key[6] == '\t'))
    return fail(p, p->key_line, "\"export\" is not part of the syntax: write %s=value", p->key + 7);
  if (!name_ok(p->key))
    return fail(p, p->key_line, "\"%s\" is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", p->key);
  return 0;
}

/* Ends the assignment being read: a later one of the same name wins. */
static int push(struct envp *p) {
  char *value = p->val ? p->val : strdup("");
  if (value == NULL)
    return fail(p, p->line, "out of memory");
  for (size_t i = 0; i < p->nvars; i++) {
    if (strcmp(p->vars[i].name, p->key) == 0) {
      free(p->vars[i].value);
      p->vars[i].value = value;
      free(p->key);
      goto done;
    }
  }
  if (p->nvars == p->capvars) {
    size_t nc = p->capvars ? p->capvars * 2 : 8;
    struct cfg_env_var *nv = realloc(p->vars, nc * sizeof(*nv));
    if (nv == NULL) {
      free(value);
      return fail(p, p->line, "out of memory");
    }
    p->vars = nv;
    p->capvars = nc;
  }
  p->vars[p->nvars].name = p->key;
  p->vars[p->nvars++].value = value;
done:
  p->key = p->val = NULL;
  p->nkey = p->nval = p->capk = p->capv = p->val_keep = 0;
  return 0;
}

/* The states before the value: blanks, comments, the name. */
static int feed_key(struct envp *p, char c) {
  if (p->st == PRE_KEY) {
    if (c == '#' || c == ';') {
      p->st = COMMENT;
    } else if (c == '=') {
      return fail(p, p->line, "no variable name before '='");
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      p->st = KEY;
      p->key_line = p->line;
      if (append(&p->key, &p->nkey, &p->capk, c) != 0)
        return fail(p, p->line, "out of memory");
    }
    return 0;
  }
  if (p->st == COMMENT) {
    if (c == '\n')
      p->st = PRE_KEY;
    return 0;
  }
  /* KEY */
  if (c == '\n')
    return fail(p, p->key_line, "expected NAME=value, got no '='");
  if (c == '=') {
    p->st = PRE_VALUE;
    return check_key(p);
  }
  if (append(&p->key, &p->nkey, &p->capk, c) != 0)
    return fail(p, p->line, "out of memory");
  return 0;
}

/* The states of the value, unquoted. */
static int feed_value(struct envp *p, char c) {
  int blank = c == ' ' || c == '\t' || c == '\r';
  if (p->st == VALUE_ESC) {
    p->st = VALUE;
    if (c == '\n')
      return 0; /* a joined line */
    if (add_val(p, c) != 0)
      return -1;
    p->val_keep = p->nval;
    return 0;
  }
  if (c == '\n') {
    if (p->st == VALUE && p->val)
      p->val[p->nval = p->val_keep] = '\0'; /* trailing blanks go */
    p->st = PRE_KEY;
    return push(p);
  }
  if (p->st == PRE_VALUE) {
    if (c == '\'' || c == '"') {
      p->st = c == '\'' ? SQ : DQ;
      p->quote_line = p->line;
      return 0;
    }
    if (blank)
      return 0;
    p->st = VALUE;
  }
  if (c == '\\') {
    p->st = VALUE_ESC;
    return 0;
  }
  if (add_val(p, c) != 0)
    return -1;
  if (!blank)
    p->val_keep = p->nval;
  return 0;
}

/* The states inside quotes. */
static int feed_quoted(struct envp *p, char c) {
  if (p->st == DQ_ESC) {
    p->st = DQ;
    if (c == '\n')
      return 0; /* a continuation line */
    if (strchr(DQ_ESCAPES, c) == NULL && add_val(p, '\\') != 0)
      return -1;
    return add_val(p, c);
  }
  if ((p->st == SQ && c == '\'') || (p->st == DQ && c == '"')) {
    p->st = PRE_VALUE;
    p->val_keep = p->nval; /* quoted blanks stay */
    return 0;
  }
  if (p->st == DQ && c == '\\') {
    p->st = DQ_ESC;
    return 0;
  }
  if (add_val(p, c) != 0)
    return -1;
  p->val_keep = p->nval;
  return 0;
}

/* The end of the text: what is open. */
static int finish(struct envp *p) {
  switch (p->st) {
  case KEY:
    return fail(p, p->key_line, "expected NAME=value, got no '='");
  case SQ:
  case DQ:
  case DQ_ESC:
    return fail(p, p->quote_line, "unterminated %s quote", p->st == SQ ? "single" : "double");
  case PRE_VALUE:
  case VALUE:
  case VALUE_ESC:
    if (p->st == VALUE && p->val)
      p->val[p->nval = p->val_keep] = '\0';
    return push(p);
  default:
    return 0;
  }
}

void cfg_env_vars_free(struct cfg_env_var *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].name);
    free(v[i].value);
  }
  free(v);
}

int cfg_envfile_parse(const char *text, size_t len, struct cfg_env_var **vars, size_t *n, int *line,
                      char *err, size_t errlen) {
  struct envp p = {.st = PRE_KEY, .line = 1, .err = err, .errlen = errlen};
  int rc = 0;
  for (size_t i = 0; i < len && rc == 0; i++) {
    char c = text[i];
    if (c == '\0')
      rc = fail(&p, p.line, "a NUL byte");
    else if (p.st <= KEY || p.st == COMMENT)
      rc = feed_key(&p, c);
    else if (p.st <= VALUE_ESC)
      rc = feed_value(&p, c);
    else
      rc = feed_quoted(&p, c);
    if (c == '\n')
      p.line++;
  }
  if (rc == 0)
    rc = finish(&p);
  free(p.key);
  free(p.val);
  if (rc != 0) {
    cfg_env_vars_free(p.vars, p.nvars);
    *vars = NULL;
    *n = 0;
    *line = p.bad_line;
    return -1;
  }
  *vars = p.vars;
  *n = p.nvars;
  *line = 0;
  return 0;
}

/* Reads all of fd (at most MAX_ENV_FILE_BYTES) into *text. Returns 0 or a
 * negative errno. */
static int read_all(int fd, char **text, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return -errno;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  char *buf = malloc(MAX_ENV_FILE_BYTES + 1);
  size_t n = 0;
  if (buf == NULL)
    return -ENOMEM;
  for (;;) {
    ssize_t r = read(fd, buf + n, MAX_ENV_FILE_BYTES + 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      free(buf);
      return -errno;
    }
    n += (size_t)r;
    if (r == 0 || n > MAX_ENV_FILE_BYTES)
      break;
  }
  if (n > MAX_ENV_FILE_BYTES) {
    free(buf);
    return -EFBIG;
  }
  *text = buf;
  *len = n;
  return 0;
}

int cfg_envfile_read(const char *path, struct cfg_env_var **vars, size_t *n, char *err,
                     size_t errlen) {
  char *text = NULL, why[200];
  size_t len = 0;
  int line, rc, fd = open(path, O_RDONLY | O_CLOEXEC);
  *vars = NULL;
  *n = 0;
  rc = fd < 0 ? -errno : read_all(fd, &text, &len);
  if (fd >= 0)
    close(fd);
  if (rc < 0) {
    snprintf(err, errlen, "%s: cannot read: %s", path,
             rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
    return rc == -ENOENT ? UV_ENOENT : UV_EINVAL;
  }
  rc = cfg_envfile_parse(text, len, vars, n, &line, why, sizeof(why));
  free(text);
  if (rc != 0) {
    snprintf(err, errlen, "%s:%d: %s", path, line, why);
    return UV_EINVAL;
  }
  return 0;
}
