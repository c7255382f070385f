/* sup_watch — restart on file changes. See sup_watch.h. */
#include "sup_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sup_log.h"
#include "util_vec.h"

#define WATCH_DIRS_MAX 4096
#define WATCH_DEPTH_MAX 32
#define WATCH_READS_PER_WAKE 16 /* reads of 64 KiB per readable event */
#define WATCH_MASK                                                                                 \
  (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

struct watch_dir {
  int wd;
  char *path; /* the directory */
  char *only; /* a watched file's name in it, or NULL: every name */
};

struct sup_watch {
  uv_poll_t poll;
  uv_timer_t timer;
  int fd;
  int closing;            /* handles still to close */
  struct watch_dir *dirs; /* owned */
  size_t ndirs, cap;
  char **ignore; /* watch_ignore, copied (a reload frees the config) */
  size_t nignore;
  char *skip; /* owned, or NULL */
  int delay_ms;
  unsigned full_logged : 1; /* WATCH_DIRS_MAX reached, said once */
  sup_watch_cb cb;
  void *ctx;
  char what[4096]; /* the first change since the timer was armed */
  char label[80];
};

/* ---- Pure parts ---- */

int sup_watch_next(const char *buf, size_t len, size_t *off, struct sup_watch_event *ev) {
  struct inotify_event h;
  if (*off >= len)
    return 0;
  if (len - *off < sizeof(h))
    return -1;
  memcpy(&h, buf + *off, sizeof(h));
  if (h.len > len - *off - sizeof(h))
    return -1;
  ev->wd = h.wd;
  ev->mask = h.mask;
  ev->name = buf + *off + sizeof(h);
  ev->len = h.len ? strnlen(ev->name, h.len) : 0;
  if (h.len == 0)
    ev->name = "";
  *off += sizeof(h) + h.len;
  return 1;
}

int sup_watch_ignored(char *const *patterns, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (fnmatch(patterns[i], name, 0) == 0)
      return 1;
  return 0;
}

/* ---- The directories ---- */

static struct watch_dir *find(struct sup_watch *w, int wd) {
  for (size_t i = 0; i < w->ndirs; i++)
    if (w->dirs[i].wd == wd)
      return &w->dirs[i];
  return NULL;
}

static int skipped(const struct sup_watch *w, const char *path) {
  size_t n = w->skip ? strlen(w->skip) : 0;
  return n > 0 && strncmp(path, w->skip, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A watch on directory path (only: one name in it). Returns 0, or -1
 * when it was not added (logged when the kernel or the limit refused). */
static int add_watch(struct sup_watch *w, const char *path, const char *only) {
  if (w->ndirs == WATCH_DIRS_MAX) {
    if (!w->full_logged)
      sup_log(SUP_WARN, "%s: watch: more than %d directories; %s and what follows not watched",
              w->label, WATCH_DIRS_MAX, path);
    w->full_logged = 1;
    return -1;
  }
  int wd = inotify_add_watch(w->fd, path, WATCH_MASK | IN_ONLYDIR);
  if (wd < 0) {
    sup_log(SUP_WARN, "%s: watch: cannot watch %s: %s%s", w->label, path, strerror(errno),
            errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
    return -1;
  }
  struct watch_dir *d = find(w, wd); /* the same directory twice: one watch */
  if (d != NULL) {
    if (d->only != NULL && (only == NULL || strcmp(d->only, only) != 0)) {
      free(d->only); /* two files of one directory: watch every name */
      d->only = NULL;
    }
    char *moved = only == NULL ? strdup(path) : NULL; /* a directory moved within the tree */
    if (moved != NULL) {
      free(d->path);
      d->path = moved;
    }
    return -1;
  }
  if (util_vec_reserve(&w->dirs, &w->cap, w->ndirs + 1) != 0)
    return -1;
  d = &w->dirs[w->ndirs];
  d->wd = wd;
  d->path = strdup(path);
  d->only = only ? strdup(only) : NULL;
  if (d->path == NULL || (only && d->only == NULL)) {
    free(d->path);
    free(d->only);
    inotify_rm_watch(w->fd, wd);
    return -1;
  }
  w->ndirs++;
  return 0;
}

static void changed(struct sup_watch *w, const char *what);

/* Watches the tree at path: the directory, then each one below it. A
 * fresh one (it appeared while watching) may have had files written into
 * it before its watch was there: the first of them is a change. */
static void add_tree(struct sup_watch *w, const char *path, int depth, int fresh) {
  char sub[4096];
  struct stat st;
  if (skipped(w, path) || add_watch(w, path, NULL) != 0 || depth >= WATCH_DEPTH_MAX)
    return;
  DIR *dir = opendir(path);
  if (dir == NULL)
    return;
  for (struct dirent *e; (e = readdir(dir)) != NULL;) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
        sup_watch_ignored(w->ignore, w->nignore, e->d_name))
      continue;
    if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
      continue;
    if (e->d_type == DT_DIR ||
        (e->d_type == DT_UNKNOWN && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)))
      add_tree(w, sub, depth + 1, fresh);
    else if (fresh)
      changed(w, sub);
  }
  closedir(dir);
}

/* A watched path of the config: a tree, or a file (its directory, for
 * that name: an editor's save replaces the file). */
static void add_path(struct sup_watch *w, const char *path) {
  struct stat st;
  char dir[4096];
  if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    add_tree(w, path, 0, 0);
    return;
  }
  const char *slash = strrchr(path, '/');
  if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
    return;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  add_watch(w, dir[0] ? dir : "/", slash + 1);
}

/* ---- Events ---- */

static void on_timer(uv_timer_t *t) {
  struct sup_watch *w = t->data;
  w->cb(w->ctx, w->what);
}

/* Something changed at what: the timer starts, unless it runs already. */
static void changed(struct sup_watch *w, const char *what) {
  if (uv_is_active((uv_handle_t *)&w->timer))
    return;
  snprintf(w->what, sizeof(w->what), "%s", what);
  uv_timer_start(&w->timer, on_timer, (uint64_t)w->delay_ms, 0);
}

static void drop_dir(struct sup_watch *w, struct watch_dir *d) {
  free(d->path);
  free(d->only);
  *d = w->dirs[--w->ndirs];
}

static void on_event(struct sup_watch *w, const struct sup_watch_event *ev) {
  char sub[4096];
  if (ev->mask & IN_Q_OVERFLOW) {
    changed(w, "(events lost: the kernel's queue overflowed)");
    return;
  }
  struct watch_dir *d = find(w, ev->wd);
  if (d == NULL)
    return;
  if (ev->mask & IN_IGNORED) { /* the directory went */
    drop_dir(w, d);
    return;
  }
  if (ev->len == 0 || (d->only && strcmp(d->only, ev->name) != 0) ||
      sup_watch_ignored(w->ignore, w->nignore, ev->name) ||
      (size_t)snprintf(sub, sizeof(sub), "%s/%s", d->path, ev->name) >= sizeof(sub))
    return;
  if (!(ev->mask & IN_ISDIR)) {
    if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM))
      changed(w, sub);
    return;
  }
  if (ev->mask & (IN_MOVED_TO | IN_MOVED_FROM)) /* a tree moved in or out */
    changed(w, sub);
  if (ev->mask & (IN_CREATE | IN_MOVED_TO)) /* d may move: sub is a copy */
    add_tree(w, sub, 1, 1);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  struct sup_watch *w = p->data;
  char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
  for (int i = 0; i < WATCH_READS_PER_WAKE; i++) {
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; /* EAGAIN: all read */
    size_t off = 0;
    struct sup_watch_event ev;
    while (sup_watch_next(buf, (size_t)n, &off, &ev) == 1)
      on_event(w, &ev);
  }
}

/* ---- Life ---- */

static void free_watch(struct sup_watch *w) {
  for (size_t i = 0; i < w->ndirs; i++) {
    free(w->dirs[i].path);
    free(w->dirs[i].only);
  }
  for (size_t i = 0; i < w->nignore; i++)
    free(w->ignore[i]);
  free(w->ignore);
  free(w->dirs);
  free(w->skip);
  free(w);
}

struct sup_watch *sup_watch_open(uv_loop_t *loop, const struct cfg_watch *cw, const char *skip,
                                 const char *label, sup_watch_cb cb, void *ctx) {
  struct sup_watch *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return NULL;
  snprintf(w->label, sizeof(w->label), "%s", label);
  if (cw->nignore > 0 && (w->ignore = calloc(cw->nignore, sizeof(*w->ignore))) == NULL) {
    free(w);
    return NULL;
  }
  for (; w->nignore < cw->nignore; w->nignore++)
    if ((w->ignore[w->nignore] = strdup(cw->ignore[w->nignore])) == NULL)
      break;
  w->delay_ms = cw->delay_ms;
  w->cb = cb;
  w->ctx = ctx;
  w->skip = skip ? strdup(skip) : NULL;
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0 || uv_poll_init(loop, &w->poll, w->fd) != 0) {
    sup_log(SUP_ERROR, "%s: watch: inotify: %s; not watching", label, strerror(errno));
    if (w->fd >= 0)
      close(w->fd);
    free_watch(w);
    return NULL;
  }
  uv_timer_init(loop, &w->timer);
  w->poll.data = w->timer.data = w;
  for (size_t i = 0; i < cw->npaths; i++)
    add_path(w, cw->paths[i]);
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  sup_log(SUP_INFO, "%s: watching %zu director%s for changes", label, w->ndirs,
          w->ndirs == 1 ? "y" : "ies");
  return w;
}

void sup_watch_again(struct sup_watch *w) {
  if (w != NULL && !w->closing)
    uv_timer_start(&w->timer, on_timer, (uint64_t)w->delay_ms, 0);
}

static void on_closed(uv_handle_t *h) {
  struct sup_watch *w = h->data;
  if (--w->closing > 0)
    return;
  close(w->fd);
  free_watch(w);
}

void sup_watch_close(struct sup_watch *w) {
  if (w == NULL || w->closing)
    return;
  w->closing = 2;
  uv_close((uv_handle_t *)&w->poll, on_closed);
  uv_close((uv_handle_t *)&w->timer, on_closed);
}
