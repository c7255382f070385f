/* sup_logfile — append-only log file with size rotation. See sup_logfile.h. */
#include "sup_logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define MAX_IOV 16       /* buffers one sup_logfile_writev() may take */
#define TAIL_CHUNK 16384 /* bytes read per step when scanning backwards */

/* ---- Opening ---- */

/* Creates the parent directory of path (one level, mode 0755) when it is
 * missing. Returns 0 or a negative libuv error, with a message in err. */
static int do_mkdir_parent(const char *path, char *err, size_t errlen) {
  const char *slash = strrchr(path, '/');
  if (slash == NULL || slash == path)
    return 0; /* the current directory or "/" */
  char *dir = strndup(path, (size_t)(slash - path));
  if (dir == NULL)
    return UV_ENOMEM;
  int rc = 0;
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    rc = -errno;
    if (err != NULL)
      snprintf(err, errlen, "mkdir \"%s\" failed: %s", dir, strerror(errno));
  }
  free(dir);
  return rc;
}

/* Opens path for appending (creating it and, if needed, its parent), and
 * sets *size to its current length. Returns the fd or a negative libuv
 * error, with a message in err (which may be NULL). */
static int do_open(const char *path, uint64_t *size, char *err, size_t errlen) {
  int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  int fd = open(path, flags, 0644);
  if (fd < 0 && errno == ENOENT) {
    int rc = do_mkdir_parent(path, err, errlen);
    if (rc < 0)
      return rc;
    fd = open(path, flags, 0644);
  }
  if (fd < 0) {
    int rc = -errno;
    if (err != NULL)
      snprintf(err, errlen, "open \"%s\" failed: %s", path, strerror(errno));
    return rc;
  }
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int rc = -errno;
    if (err != NULL)
      snprintf(err, errlen, "fstat \"%s\" failed: %s", path, strerror(errno));
    close(fd);
    return rc;
  }
  *size = (uint64_t)st.st_size;
  return fd;
}

struct sup_logfile *sup_logfile_open(const char *path, uint64_t max_bytes, int keep, char *err,
                                     size_t errlen) {
  size_t n = strlen(path) + 16; /* room for ".<int>" */
  struct sup_logfile *lf = calloc(1, sizeof(*lf));
  if (lf == NULL)
    goto out_oom;
  lf->fd = -1;
  lf->path = strdup(path);
  lf->from = malloc(n);
  lf->to = malloc(n);
  if (lf->path == NULL || lf->from == NULL || lf->to == NULL)
    goto out_free;
  sup_logfile_configure(lf, max_bytes, keep);
  lf->fd = do_open(path, &lf->size, err, errlen);
  if (lf->fd < 0) {
    lf->fd = -1;
    sup_logfile_close(lf);
    return NULL;
  }
  return lf;

out_free:
  sup_logfile_close(lf);
out_oom:
  if (err != NULL)
    snprintf(err, errlen, "open \"%s\" failed: out of memory", path);
  return NULL;
}

void sup_logfile_configure(struct sup_logfile *lf, uint64_t max_bytes, int keep) {
  lf->max_bytes = max_bytes;
  lf->keep = keep < 0 ? 0 : keep;
}

int sup_logfile_reopen(struct sup_logfile *lf) {
  uint64_t size;
  int fd = do_open(lf->path, &size, NULL, 0);
  if (fd < 0)
    return fd;
  if (lf->fd >= 0)
    close(lf->fd);
  lf->fd = fd;
  lf->size = size;
  return 0;
}

void sup_logfile_close(struct sup_logfile *lf) {
  if (lf == NULL)
    return;
  if (lf->fd >= 0)
    close(lf->fd);
  free(lf->path);
  free(lf->from);
  free(lf->to);
  free(lf);
}

/* ---- Writing ---- */

/* Formats "path.i" into buf (sized at open for any int). */
static void do_name(const struct sup_logfile *lf, char *buf, int i) {
  snprintf(buf, strlen(lf->path) + 16, "%s.%d", lf->path, i);
}

int64_t sup_logfile_flush(struct sup_logfile *lf) {
  struct stat st;
  int64_t freed = 0;
  for (int i = 1; i <= lf->keep; i++) {
    do_name(lf, lf->from, i);
    if (stat(lf->from, &st) == 0 && unlink(lf->from) == 0)
      freed += st.st_size;
    else if (errno != ENOENT)
      return -errno;
  }
  if (lf->fd < 0)
    return freed;
  if (fstat(lf->fd, &st) != 0 || ftruncate(lf->fd, 0) != 0) /* O_APPEND: next write at 0 */
    return -errno;
  lf->size = 0;
  return freed + st.st_size;
}

/* Shifts path.(keep-1) .. path into path.keep .. path.1 and opens a new,
 * empty path; with keep = 0 truncates path instead. Returns 0 or a
 * negative libuv error: when path could not be moved the current file
 * stays in use; when the new file could not be opened, none is (fd = -1,
 * and later writes try to open it again). */
static int do_rotate(struct sup_logfile *lf) {
  if (lf->keep == 0) {
    if (ftruncate(lf->fd, 0) < 0)
      return -errno;
    lf->size = 0;
    return 0;
  }
  for (int i = lf->keep - 1; i >= 1; i--) {
    do_name(lf, lf->from, i);
    do_name(lf, lf->to, i + 1);
    if (rename(lf->from, lf->to) < 0 && errno != ENOENT)
      return -errno; /* a hole in the sequence would lose a file later */
  }
  do_name(lf, lf->to, 1);
  if (rename(lf->path, lf->to) < 0 && errno != ENOENT)
    return -errno; /* ENOENT: removed behind our back; just start anew */
  close(lf->fd);
  lf->fd = do_open(lf->path, &lf->size, NULL, 0);
  if (lf->fd < 0) {
    int rc = lf->fd;
    lf->fd = -1;
    return rc;
  }
  return 0;
}

/* Makes room for a record of len bytes: rotates when it would take a
 * non-empty file past max_bytes. The size is checked with fstat first,
 * since the file may have been truncated (copytruncate) or appended to by
 * someone else. Returns 0 or a negative libuv error. */
static int do_make_room(struct sup_logfile *lf, size_t len) {
  if (lf->max_bytes == 0 || lf->size == 0 || lf->size + len <= lf->max_bytes)
    return 0;
  struct stat st;
  if (fstat(lf->fd, &st) == 0) {
    lf->size = (uint64_t)st.st_size;
    if (lf->size == 0 || lf->size + len <= lf->max_bytes)
      return 0;
  }
  return do_rotate(lf);
}

int sup_logfile_writev(struct sup_logfile *lf, const struct iovec *iov, int n) {
  struct iovec v[MAX_IOV];
  size_t total = 0;
  int rc = 0;
  if (n < 0 || n > MAX_IOV)
    return UV_EINVAL;
  for (int i = 0; i < n; i++) {
    v[i] = iov[i];
    total += iov[i].iov_len;
  }
  if (total == 0)
    return 0;
  if (lf->fd < 0 && (rc = sup_logfile_reopen(lf)) < 0)
    goto out_drop;
  rc = do_make_room(lf, total);
  if (lf->fd < 0)
    goto out_drop; /* rotation lost the file; rc says why */

  struct iovec *p = v;
  size_t done = 0;
  while (done < total) {
    ssize_t w = writev(lf->fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = w < 0 ? -errno : UV_EIO;
      break;
    }
    done += (size_t)w;
    lf->size += (uint64_t)w;
    /* A short write (nearly full disk): go on after the bytes written. */
    while (n > 0 && (size_t)w >= p->iov_len) {
      w -= (ssize_t)p->iov_len;
      p++;
      n--;
    }
    if (n > 0) {
      p->iov_base = (char *)p->iov_base + w;
      p->iov_len -= (size_t)w;
    }
  }
  if (done == total) {
    if (rc < 0)
      lf->last_err = rc;
    return rc;
  }
  total -= done;

out_drop:
  lf->dropped += total;
  lf->last_err = rc;
  return rc;
}

int sup_logfile_write(struct sup_logfile *lf, const char *data, size_t len) {
  struct iovec v = {.iov_base = (void *)data, .iov_len = len};
  return sup_logfile_writev(lf, &v, 1);
}

/* ---- Reading the tail ---- */

/* Finds where the last nlines lines of fd (size bytes long) start, reading
 * backwards and taking at most budget bytes of whole lines. A last line
 * without "\n" counts as a line. Sets *start and *found (the lines from
 * *start to the end). Returns 0 or a negative libuv error. */
static int do_scan_back(int fd, uint64_t size, size_t nlines, size_t budget, uint64_t *start,
                        size_t *found) {
  char buf[TAIL_CHUNK];
  uint64_t hi = size;
  *start = size;
  *found = 0;
  if (size == 0 || nlines == 0)
    return 0;
  while (hi > 0) {
    uint64_t lo = hi > TAIL_CHUNK ? hi - TAIL_CHUNK : 0;
    ssize_t r = pread(fd, buf, (size_t)(hi - lo), (off_t)lo);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if ((uint64_t)r < hi - lo)
      return UV_EAGAIN; /* shrank while we read: let the caller retry */
    for (uint64_t i = hi; i-- > lo;) {
      if (buf[i - lo] != '\n' || i == size - 1)
        continue; /* the final "\n" ends the last line, starts none */
      if (size - (i + 1) > budget)
        return 0;
      *start = i + 1;
      if (++*found == nlines)
        return 0;
    }
    hi = lo;
  }
  if (size <= budget) {
    *start = 0; /* the first line of the file */
    ++*found;
  }
  return 0;
}

/* Reads len bytes at off into dst; returns the bytes read (fewer if the
 * file shrank) or a negative libuv error. */
static ssize_t do_pread_all(int fd, char *dst, size_t len, uint64_t off) {
  size_t got = 0;
  while (got < len) {
    ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -errno;
    if (r == 0)
      break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* Opens path for reading and gets its size; a missing file gives fd -1
 * and size 0. Returns 0 or a negative libuv error. */
static int do_open_read(const char *path, int *fd, uint64_t *size) {
  struct stat st;
  *fd = -1;
  *size = 0;
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0)
    return errno == ENOENT ? 0 : -errno;
  if (fstat(f, &st) < 0) {
    int rc = -errno;
    close(f);
    return rc;
  }
  *fd = f;
  *size = (uint64_t)st.st_size;
  return 0;
}

/* The last lines of one file: where they start and how long they are. */
struct tail_part {
  int fd;         /* -1: the file does not exist */
  uint64_t start; /* offset of the first byte kept */
  size_t len;     /* bytes kept */
  size_t found;   /* lines found */
};

/* Finds the last nlines (at most max bytes) of path. Returns 0 or < 0. */
static int tail_part(const char *path, size_t nlines, size_t max, struct tail_part *t) {
  uint64_t size = 0;
  int rc;
  *t = (struct tail_part){.fd = -1};
  if ((rc = do_open_read(path, &t->fd, &size)) < 0 || t->fd < 0)
    return rc;
  if ((rc = do_scan_back(t->fd, size, nlines, max, &t->start, &t->found)) < 0)
    return rc;
  t->len = (size_t)(size - t->start);
  return 0;
}

/* Reads t's bytes into buf. Returns the bytes read or < 0. */
static ssize_t read_part(const struct tail_part *t, char *buf) {
  return t->len > 0 ? do_pread_all(t->fd, buf, t->len, t->start) : 0;
}

/* The lines path.1 (the newest rotated file) adds before path's. */
static int tail_rotated(const char *path, size_t nlines, size_t max, struct tail_part *t) {
  char *name1 = malloc(strlen(path) + 3);
  if (name1 == NULL)
    return UV_ENOMEM;
  sprintf(name1, "%s.1", path);
  int rc = tail_part(name1, nlines, max, t);
  free(name1);
  return rc;
}

int sup_logfile_tail(const char *path, int keep, size_t nlines, size_t max_bytes, char **out,
                     size_t *outlen) {
  struct tail_part cur, old = {.fd = -1};
  char *buf = NULL;
  ssize_t r1 = 0, r = 0;
  size_t sep = 0;
  int rc;
  *out = NULL;
  *outlen = 0;
  if ((rc = tail_part(path, nlines, max_bytes, &cur)) < 0)
    goto out;
  if (cur.found < nlines && cur.start == 0 && keep > 0 &&
      (rc = tail_rotated(path, nlines - cur.found, max_bytes - cur.len, &old)) < 0)
    goto out;
  if ((buf = malloc(old.len + 1 + cur.len + 1)) == NULL) {
    rc = UV_ENOMEM;
    goto out;
  }
  if ((r1 = read_part(&old, buf)) < 0) {
    rc = (int)r1;
    goto out;
  }
  if (r1 > 0 && buf[r1 - 1] != '\n')
    buf[r1 + sep++] = '\n'; /* path.1 ended mid-line */
  if ((r = read_part(&cur, buf + r1 + sep)) < 0) {
    rc = (int)r;
    goto out;
  }
  *outlen = (size_t)r1 + sep + (size_t)r;
  buf[*outlen] = '\0';
  *out = buf;
  buf = NULL;
  rc = 0;
out:
  free(buf);
  if (cur.fd >= 0)
    close(cur.fd);
  if (old.fd >= 0)
    close(old.fd);
  return rc;
}

/* ---- Merging the tails of several services ---- */

struct merge_line {
  const char *p; /* the line, without its '\n' */
  size_t len;
  size_t seq; /* its place in the input: ties keep it */
};

/* Time order: the timestamps' text, then the input order. */
static int by_time(const void *a, const void *b) {
  const struct merge_line *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->p, y->p, n < SUP_LOGFILE_TIME_LEN ? n : SUP_LOGFILE_TIME_LEN);
  if (c == 0 && n < SUP_LOGFILE_TIME_LEN && x->len != y->len)
    c = x->len < y->len ? -1 : 1; /* a short line before the one it prefixes */
  return c != 0 ? c : x->seq < y->seq ? -1 : 1;
}

/* The lines of the n texts, in input order, into *lines (malloc'd). */
static int split_lines(const char *const *texts, const size_t *lens, size_t n,
                       struct merge_line **lines, size_t *count) {
  size_t total = 0, k = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t off = 0; off < lens[i]; total++) {
      const char *nl = memchr(texts[i] + off, '\n', lens[i] - off);
      off = nl ? (size_t)(nl - texts[i]) + 1 : lens[i];
    }
  *count = total;
  if ((*lines = malloc((total ? total : 1) * sizeof(**lines))) == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < n; i++)
    for (size_t off = 0; off < lens[i]; k++) {
      const char *start = texts[i] + off, *nl = memchr(start, '\n', lens[i] - off);
      size_t len = nl ? (size_t)(nl - start) : lens[i] - off;
      (*lines)[k] = (struct merge_line){start, len, k};
      off += len + (nl != NULL);
    }
  return 0;
}

int sup_logfile_merge(const char *const *texts, const size_t *lens, size_t n, size_t nlines,
                      size_t max_bytes, char **out, size_t *outlen) {
  struct merge_line *lines;
  size_t count, first, bytes = 0;
  *out = NULL;
  *outlen = 0;
  if (split_lines(texts, lens, n, &lines, &count) != 0)
    return UV_ENOMEM;
  qsort(lines, count, sizeof(*lines), by_time);
  for (first = count; first > 0 && count - first < nlines; first--) {
    if (bytes + lines[first - 1].len + 1 > max_bytes)
      break;
    bytes += lines[first - 1].len + 1;
  }
  char *buf = malloc(bytes + 1);
  if (buf == NULL) {
    free(lines);
    return UV_ENOMEM;
  }
  for (size_t i = first; i < count; i++) {
    memcpy(buf + *outlen, lines[i].p, lines[i].len);
    *outlen += lines[i].len;
    buf[(*outlen)++] = '\n';
  }
  buf[*outlen] = '\0';
  free(lines);
  *out = buf;
  return 0;
}
