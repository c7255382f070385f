/* cfg_path — relative paths and command lookup. See cfg.h.
 *
 * Paths in the config resolve against the config file's directory, never
 * against muster's working directory. A command's argv[0] without '/' is
 * looked up like execvp() would, except that the directory of the muster
 * binary comes first (so `make run` finds the services built next to it) and
 * relative PATH entries ("", ".", "bin") are skipped: what runs must not
 * depend on the directory muster was started from. */
#include "cfg.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* Cleans the absolute path p in place: collapses "//", drops "." segments
 * and any trailing '/' (but keeps "/" itself). */
static void clean(char *p) {
  char *w = p;
  const char *r = p;
  while (*r) {
    if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == '\0'))
      r += 2; /* "/." */
    else if (r[0] == '/' && w > p && w[-1] == '/')
      r++; /* "//" */
    else
      *w++ = *r++;
  }
  if (w > p + 1 && w[-1] == '/')
    w--;
  if (w == p)
    *w++ = '/';
  *w = '\0';
}

/* Returns path made absolute against dir and cleaned (malloc'd), or NULL. */
char *cfg_path_resolve(const char *dir, const char *path) {
  size_t dl = path[0] == '/' ? 0 : strlen(dir), pl = strlen(path);
  char *s = malloc(dl + 1 + pl + 1);
  if (s == NULL)
    return NULL;
  if (dl > 0) {
    memcpy(s, dir, dl);
    s[dl] = '/';
    memcpy(s + dl + 1, path, pl + 1);
  } else {
    memcpy(s, path, pl + 1);
  }
  clean(s);
  return s;
}

/* Returns 0 when p is an executable regular file, UV_EACCES when it exists
 * but is not one, UV_ENOENT when it does not exist. */
static int check_exec(const char *p) {
  struct stat st;
  if (stat(p, &st) != 0)
    return UV_ENOENT;
  if (!S_ISREG(st.st_mode) || access(p, X_OK) != 0)
    return UV_EACCES;
  return 0;
}

/* Looks for word in the n-byte directory dir. Returns 0 with *out set,
 * UV_ENOENT (or UV_EACCES) when it is not there, UV_ENOMEM. */
static int try_dir(const char *dir, size_t n, const char *word, char **out) {
  size_t wl = strlen(word);
  char *p = malloc(n + 1 + wl + 1);
  if (p == NULL)
    return UV_ENOMEM;
  memcpy(p, dir, n);
  p[n] = '/';
  memcpy(p + n + 1, word, wl + 1);
  clean(p);
  int rc = check_exec(p);
  if (rc != 0) {
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

/* Finds the program word names. Returns 0 with *out set, or UV_E*. */
int cfg_path_find_command(const char *word, const char *dir, const char *bin_dir,
                          const char *path_env, char **out) {
  *out = NULL;
  if (word[0] == '\0')
    return UV_ENOENT;
  if (strchr(word, '/') != NULL) {
    char *p = cfg_path_resolve(dir, word);
    if (p == NULL)
      return UV_ENOMEM;
    int rc = check_exec(p);
    if (rc != 0) {
      free(p);
      return rc;
    }
    *out = p;
    return 0;
  }
  if (bin_dir != NULL && bin_dir[0] == '/') {
    int rc = try_dir(bin_dir, strlen(bin_dir), word, out);
    if (rc == 0 || rc == UV_ENOMEM)
      return rc;
  }
  for (const char *p = path_env; p != NULL && *p != '\0';) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n > 0 && p[0] == '/') {
      int rc = try_dir(p, n, word, out);
      if (rc == 0 || rc == UV_ENOMEM)
        return rc;
    }
    p = end ? end + 1 : NULL;
  }
  return UV_ENOENT;
}
