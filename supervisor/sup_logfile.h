/* sup_logfile — one service's log file: append-only, rotated by size.
 *
 * Like logrotate's "size N + rotate K", done inline: a write that would
 * take the file past max_bytes first renames path.(K-1) to path.K, ...,
 * path.1 to path.2 and path to path.1, and starts a new path; whatever was
 * in path.K is dropped, so there are never more than K old files. K = 0
 * truncates the file instead. A single write is never split: a record
 * larger than max_bytes still goes whole into a fresh file.
 *
 * Writes are plain write(2) calls on the loop thread, as nginx writes its
 * error log: a local file write does not block in practice, and a failed
 * one (ENOSPC, EIO, ...) drops the record and counts it rather than queue
 * it, so a full disk never grows muster's memory or stalls the loop.
 *
 * Files beyond path.K left by an earlier config with a larger K are not
 * removed (logrotate does not either). External rotation (logrotate with
 * "create" or "copytruncate") works too: SIGUSR1 → sup_logfile_reopen(). */
#ifndef MUSTER_SUP_LOGFILE_H
#define MUSTER_SUP_LOGFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct sup_logfile {
  char *path;         /* the current file's path, owned */
  char *from, *to;    /* scratch for "path.N" names during rotation, owned */
  int fd;             /* open for append; -1 after a failed (re)open */
  uint64_t size;      /* bytes in the current file, as far as we know */
  uint64_t max_bytes; /* rotate before passing this; 0 = never rotate */
  int keep;           /* rotated files kept (path.1 .. path.keep) */
  uint64_t dropped;   /* bytes lost to failed writes since open */
  int last_err;       /* the last write or rotation error (0 = none) */
};

/* The most sup_logfile_tail() is asked for, whatever the number of lines. */
#define SUP_LOGFILE_TAIL_MAX ((size_t)8 << 20) /* 8 MiB */

/* Opens (creating it, and its parent directory if missing) the log file at
 * path for appending. Returns the new logfile, owned by the caller (end it
 * with sup_logfile_close()), or NULL with a message such as
 * `open "/x/y.log" failed: Permission denied` in err. */
struct sup_logfile *sup_logfile_open(const char *path, uint64_t max_bytes, int keep, char *err,
                                     size_t errlen);

/* Changes the rotation limits (config reload); they apply from the next
 * write on. */
void sup_logfile_configure(struct sup_logfile *lf, uint64_t max_bytes, int keep);

/* Appends len bytes (normally whole lines), rotating first when they would
 * take the file past max_bytes. Returns 0, or a negative libuv error when
 * the data was dropped (write failed) or rotation failed (the data was
 * then still written to the current file). */
int sup_logfile_write(struct sup_logfile *lf, const char *data, size_t len);

/* As sup_logfile_write(), with the record gathered from n buffers and
 * written by one writev(2) (so a prefix and a line need no copying). */
int sup_logfile_writev(struct sup_logfile *lf, const struct iovec *iov, int n);

/* Reopens the file at its path (after an external logrotate moved it), and
 * learns its size anew. On failure the old file stays in use. Returns 0 or
 * a negative libuv error. */
int sup_logfile_reopen(struct sup_logfile *lf);

/* Empties the log, as `pm2 flush` and `supervisorctl clear` do: the
 * current file is truncated (writes go on at its start) and the rotated
 * ones (path.1 .. path.keep) are removed. Returns the bytes freed, or a
 * negative libuv error (what could be removed before it is gone). */
int64_t sup_logfile_flush(struct sup_logfile *lf);

/* Closes the file and frees lf. NULL is allowed. */
void sup_logfile_close(struct sup_logfile *lf);

/* Reads the last nlines lines of the log at path, taking older lines from
 * path.1 when path has fewer (and keep > 0), at most max_bytes (at most
 * SUP_LOGFILE_TAIL_MAX) bytes of whole lines. A missing file counts as
 * empty. On success *out is a malloc'd, NUL-terminated buffer owned by
 * the caller (free() it) and *outlen its length without the NUL; returns
 * 0 or a negative libuv error. */
int sup_logfile_tail(const char *path, int keep, size_t nlines, size_t max_bytes, char **out,
                     size_t *outlen);

/* The width of the timestamp a log line starts with (sup_log_timestamp:
 * "2026-12-03T16:31:43.595Z"); its text order is its time order. */
#define SUP_LOGFILE_TIME_LEN 24

/* Merges n tails (texts[i] of lens[i] bytes, whole lines in time order,
 * as sup_logfile_tail returns them) into one in time order: by each
 * line's timestamp, a tie kept in input order. Keeps the newest nlines
 * lines, at most max_bytes of them. On success *out is malloc'd and
 * NUL-terminated (free() it), *outlen its length; returns 0 or UV_ENOMEM.
 * Pure. */
int sup_logfile_merge(const char *const *texts, const size_t *lens, size_t n, size_t nlines,
                      size_t max_bytes, char **out, size_t *outlen);

#endif
