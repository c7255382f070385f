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

int sup_logfile_tail(const char *path, int keep, size_t nlines, char **out, size_t *outlen) {
  int fd = -1, fd1 = -1, rc;
  uint64_t size = 0, size1 = 0, start = 0, start1 = 0;
  size_t found = 0, found1 = 0, len = 0, len1 = 0, sep = 0;
  char *name1 = NULL, *buf = NULL;
  ssize_t r;

  *out = NULL;
  *outlen = 0;
  if ((rc = do_open_read(path, &fd, &size)) < 0)
    goto out;
  if (fd >= 0 && (rc = do_scan_back(fd, size, nlines, SUP_LOGFILE_TAIL_MAX, &start, &found)) < 0)
    goto out;
  len = (size_t)(size - start);
  if (found < nlines && start == 0 && keep > 0) {
    if ((name1 = malloc(strlen(path) + 3)) == NULL) {
      rc = UV_ENOMEM;
      goto out;
    }
    sprintf(name1, "%s.1", path);
    if ((rc = do_open_read(name1, &fd1, &size1)) < 0)
      goto out;
    if (fd1 >= 0 && (rc = do_scan_back(fd1, size1, nlines - found, SUP_LOGFILE_TAIL_MAX - len,
                                       &start1, &found1)) < 0)
      goto out;
    len1 = (size_t)(size1 - start1);
  }
  if ((buf = malloc(len1 + 1 + len + 1)) == NULL) {
    rc = UV_ENOMEM;
    goto out;
  }
  if (len1 > 0) {
    if ((r = do_pread_all(fd1, buf, len1, start1)) < 0) {
      rc = (int)r;
      goto out;
    }
    len1 = (size_t)r;
    if (len1 > 0 && buf[len1 - 1] != '\n')
      buf[len1 + sep++] = '\n'; /* path.1 ended mid-line */
  }
  if (len > 0) {
    if ((r = do_pread_all(fd, buf + len1 + sep, len, start)) < 0) {
      rc = (int)r;
      goto out;
    }
    len = (size_t)r;
  }
  *outlen = len1 + sep + len;
  buf[*outlen] = '\0';
  *out = buf;
  buf = NULL;
  rc = 0;

out:
  free(buf);
  free(name1);
  if (fd >= 0)
    close(fd);
  if (fd1 >= 0)
    close(fd1);
  return rc;
}
