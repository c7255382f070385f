/* cfg_load — from text (or a file) to a validated struct cfg: JSON syntax
 * with line:col positions, then the schema sections. See cfg.h. */
#include "cfg_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util_json.h"

#define MAX_FILE_BYTES (16 * 1024 * 1024)           /* a config is never this big */
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin" /* when $PATH is unset */

static const char *const root_keys[] = {"gateway",  "admin",   "control",  "logs",
                                        "realtime", "cluster", "services", "tcp",
                                        "static",   "hooks",   NULL};

/* ---- JSON syntax errors ---- */

/* Computes the 1-based line and column (in UTF-8 characters) of offset off. */
static void line_col(const char *text, size_t off, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n') {
      (*line)++;
      *col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      (*col)++; /* not a UTF-8 continuation byte: a new character */
    }
  }
}

/* Reports "FILE:LINE:COL: what" for offset off, quoting the text there. */
static void syntax_error(struct cfg__ctx *x, const char *text, size_t len, size_t off,
                         const char *what) {
  int line, col;
  const char *file = x->env->file ? x->env->file : "config";
  if (off > len)
    off = len;
  size_t rest = off;
  while (rest < len && (unsigned char)text[rest] <= ' ' && text[rest] != '\0')
    rest++;
  if (rest == len) { /* cJSON reports a truncated text at its last byte */
    line_col(text, len, &line, &col);
    cfg__err(x, "", "%s:%d:%d: %s (unexpected end of input)", file, line, col, what);
    return;
  }
  line_col(text, off, &line, &col);
  size_t n = 0; /* quote up to 16 bytes, to the end of the line */
  while (off + n < len && n < 16 && text[off + n] != '\n' && text[off + n] != '\r')
    n++;
  while (off + n < len && n > 1 && ((unsigned char)text[off + n] & 0xC0) == 0x80)
    n--; /* do not cut a UTF-8 character */
  cfg__err(x, "", "%s:%d:%d: %s near '%.*s'", file, line, col, what, (int)n, text + off);
}

/* Parses text into a cJSON tree (owned by the caller), or reports where the
 * syntax breaks and returns NULL. */
static cJSON *parse_json(struct cfg__ctx *x, const char *text, size_t len) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  size_t off = end != NULL && end >= text ? (size_t)(end - text) : 0;
  if (root == NULL) {
    syntax_error(x, text, len, off, "JSON syntax error");
    return NULL;
  }
  while (off < len && text[off] != '\0' && (unsigned char)text[off] <= ' ')
    off++; /* the whitespace cJSON itself skips */
  if (off < len) {
    syntax_error(x, text, len, off, "JSON syntax error: text after the end");
    cJSON_Delete(root);
    return NULL;
  }
  if ((off = util_json_nul_escape(text, len)) < len) { /* cJSON would cut the string */
    syntax_error(x, text, len, off, "a string holds U+0000, which no setting can");
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* ---- Parsing ---- */

/* Parses and validates text into *out. Returns 0, or -1 with errs filled. */
int cfg_parse(const char *text, size_t len, const struct cfg_env *env, struct cfg **out,
              struct cfg_errors *errs) {
  struct cfg__ctx x = {env, errs, 0};
  const char *file = env->file ? env->file : "config";
  *out = NULL;
  cJSON *root = parse_json(&x, text, len);
  if (root == NULL)
    return -1;
  struct cfg *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    cfg__err(&x, file, "out of memory");
    cJSON_Delete(root);
    return -1;
  }
  if (cfg__strdup(&x, file, file, &c->file) != 0 ||
      cfg__strdup(&x, file, env->dir ? env->dir : ".", &c->dir) != 0)
    goto done;
  if (!cJSON_IsObject(root)) {
    cfg__err(&x, file, "must be a JSON object, got %s", cfg__type_name(root));
    goto done;
  }
  cfg__check_object(&x, root, "", root_keys);
  cfg__parse_host(&x, root, c);
  cfg__parse_realtime(&x, root, c);
  cfg__parse_cluster(&x, root, c);
  cfg__parse_services(&x, root, c);
  cfg__parse_tcp(&x, root, c);
  cfg__check_route_conflicts(&x, c);
  cfg__parse_static(&x, root, c);
  cfg__check_upstreams(&x, c);
  cfg__parse_hooks(&x, root, c);
done:
  cJSON_Delete(root);
  if (x.failed > 0 || errs->oom) {
    cfg_free(c);
    return -1;
  }
  *out = c;
  return 0;
}

/* ---- Files ---- */

/* Reads the whole file at path into *text (malloc'd, NUL-terminated).
 * Returns 0 or a negative errno. */
static int read_file(const char *path, char **text, size_t *len) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = 0;
  char *buf = NULL;
  size_t n = 0, cap = 0;
  if (fstat(fd, &st) != 0) {
    rc = -errno;
    goto out_close;
  }
  if (S_ISDIR(st.st_mode)) {
    rc = -EISDIR;
    goto out_close;
  }
  for (;;) {
    if (n + 1 >= cap) {
      cap = cap ? cap * 2 : 8192;
      char *nb = cap > MAX_FILE_BYTES + 1 ? NULL : realloc(buf, cap);
      if (nb == NULL) {
        rc = cap > MAX_FILE_BYTES + 1 ? -EFBIG : -ENOMEM;
        goto out_close;
      }
      buf = nb;
    }
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = -errno;
      goto out_close;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  buf = NULL;
out_close:
  free(buf);
  close(fd);
  return rc;
}

/* Returns the absolute directory of file path (malloc'd), or NULL with
 * errno set. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  char *cwd = NULL, *dir = NULL, *sub;
  if (path[0] != '/' && (cwd = getcwd(NULL, 0)) == NULL)
    return NULL;
  if (slash == NULL)
    sub = strdup(".");
  else if (slash == path)
    sub = strdup("/");
  else
    sub = strndup(path, (size_t)(slash - path));
  if (sub != NULL)
    dir = cfg_path_resolve(cwd, sub);
  free(sub);
  free(cwd);
  if (dir == NULL)
    errno = ENOMEM;
  return dir;
}

/* The cfg_getenv_fn of the real environment. */
static const char *real_getenv(void *ctx, const char *name) {
  (void)ctx;
  return getenv(name);
}

/* Reads and parses the file at path. Returns 0, or -1 with errs filled. */
int cfg_load(const char *path, const char *bin_dir, struct cfg **out, struct cfg_errors *errs) {
  char *text = NULL, *dir;
  size_t len = 0;
  *out = NULL;
  int rc = read_file(path, &text, &len);
  if (rc != 0) {
    cfg_errors_add(errs, "%s: cannot read: %s", path,
                   rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
    return -1;
  }
  if ((dir = dir_of(path)) == NULL) {
    cfg_errors_add(errs, "%s: cannot find its directory: %s", path, strerror(errno));
    free(text);
    return -1;
  }
  const char *path_env = getenv("PATH");
  struct cfg_env env = {.file = path,
                        .dir = dir,
                        .bin_dir = bin_dir,
                        .path = path_env ? path_env : DEFAULT_PATH,
                        .getenv = real_getenv};
  rc = cfg_parse(text, len, &env, out, errs);
  free(dir);
  free(text);
  return rc;
}
