/* gw_static — the handler of static[]: files muster serves itself, as
 * nginx's root/alias and try_files, express.static or `pm2 serve` do.
 *
 * A request whose static route wins over every service route (the longer
 * prefix; gw_route_before) is taken whole (GET has no body) and goes:
 *   1. gw_file_path: the path under the root, decoded and checked (pure);
 *   2. lookup, on the loop from the kernel's caches (RESOLVE_CACHED),
 *      else on libuv's thread pool (opening a file may block): the
 *      root opened afresh (a deploy may swap its symlink), the file
 *      opened beneath it with openat2(RESOLVE_BENEATH) so neither ".."
 *      nor a symlink leads out; a directory gets its index, or a 301 to
 *      its URL with the '/'; what is not found gets the fallback;
 *      with "precompressed", NAME.br or NAME.gz in NAME's place for a
 *      client that takes it (nginx's gzip_static);
 *   3. the head: 304 for a matching If-None-Match / If-Modified-Since,
 *      206 or 416 for a Range, else 200, with etag, last-modified,
 *      accept-ranges and cache-control;
 *   4. the body, read 64 KiB at a time (preadv2 RWF_NOWAIT on the loop
 *      from the page cache, else uv_fs_read on the pool), the next read
 *      only once the client has taken the last (gw_req_want_drain): a
 *      client reading slowly holds 64 KiB, not the file. One that reads
 *      nothing for request_timeout_ms is cut.
 * The job owns copies of what it needs from the config (a reload may free
 * it), and outlives its request when that is abandoned mid-read: the read
 * or lookup in flight comes back, sees req NULL and frees the job. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "gw.h"
#include "gw_file.h"
#include "sup_log.h"
#include "util_date.h"

#define CHUNK 65536

struct gw_static_job {
  struct gw_req *req;                /* NULL once it was abandoned */
  uv_work_t work;                    /* the lookup */
  uv_fs_t fs;                        /* a read */
  int fd;                            /* the file, or -1 */
  int err;                           /* the lookup's errno, 0 when fd is open */
  int redirect;                      /* a directory asked for without its '/': 301 */
  int dir_url;                       /* the URL ends in '/' */
  int max_age_s;                     /* cache-control */
  int precompressed;                 /* the entry's precompressed: vary: accept-encoding */
  unsigned want_br : 1, want_gz : 1; /* the client takes them (precompressed on) */
  const char *encoding;              /* the file's content-encoding, or NULL */
  struct stat st;                    /* the file's */
  uint64_t off, left;                /* what is still to be read of it */
  int busy;                          /* in a call that may end the request: do not free yet */
  unsigned reading : 1, waiting : 1;
  unsigned cached : 1; /* the lookup on the loop: RESOLVE_CACHED, no wait */
  unsigned again : 1;  /*   it needs the disk: the pool does it */
  /* copies of the config's (a reload may free it): no allocation each */
  char root[PATH_MAX], index[GW_FILE_PATH_MAX], fallback[GW_FILE_PATH_MAX]; /* "": none */
  char rel[GW_FILE_PATH_MAX];  /* the path under root */
  char name[GW_FILE_PATH_MAX]; /* the file served (its type) */
  char buf[CHUNK];
};

/* ---- The lookup ---- */

/* The lookup runs twice at most: first on the loop with RESOLVE_CACHED
 * (j->cached), which fails with EAGAIN unless every component is in the
 * kernel's lookup cache, so it never waits for a disk; then, only when it
 * did fail so, on a thread of the pool without it. A cached file (the
 * usual case) thus costs no thread hop. */

/* Opens path beneath dir: openat2 where the kernel has it; else each
 * component with O_NOFOLLOW (no symlink at all; never on the loop).
 * -1 with errno (EAGAIN: not cached, try on the pool). */
static int open_beneath(const struct gw_static_job *j, int dir, const char *path) {
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                                    (j->cached ? RESOLVE_CACHED : 0)};
  long fd = syscall(SYS_openat2, dir, path, &how, sizeof(how));
  if (fd >= 0 || (errno != ENOSYS && !(j->cached && errno == EINVAL)))
    return (int)fd; /* (EINVAL: a kernel before 5.12, without RESOLVE_CACHED) */
  if (j->cached) {
    errno = EAGAIN;
    return -1;
  }
  char part[GW_FILE_PATH_MAX];
  int cur = dup(dir);
  for (const char *s = path; cur >= 0 && *s;) {
    size_t n = strcspn(s, "/");
    memcpy(part, s, n);
    part[n] = '\0';
    int next = openat(cur, part, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
    int e = errno;
    close(cur);
    errno = e;
    cur = next;
    s += n + (s[n] == '/');
  }
  return cur;
}

/* The root, opened afresh (a deploy may have swapped its symlink). */
static int open_root(const struct gw_static_job *j) {
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                         .resolve = j->cached ? RESOLVE_CACHED : 0};
  long fd = syscall(SYS_openat2, AT_FDCWD, j->root, &how, sizeof(how));
  if (fd >= 0 || errno != ENOSYS)
    return fd < 0 && j->cached && errno == EINVAL ? (errno = EAGAIN, -1) : (int)fd;
  if (j->cached) {
    errno = EAGAIN;
    return -1;
  }
  return open(j->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* A precompressed sibling of the regular file path (PATH.br, else
 * PATH.gz, as the client takes them), in place of it when there is one:
 * nginx's gzip_static and brotli_static. */
static void open_encoded(struct gw_static_job *j, int dir, const char *path) {
  static const struct { const char *ext, *coding; } codings[] = {{".br", "br"}, {".gz", "gzip"}};
  char sib[GW_FILE_PATH_MAX + 4];
  struct stat st;
  for (int i = 0; i < 2; i++) {
    if (!(i == 0 ? j->want_br : j->want_gz))
      continue;
    snprintf(sib, sizeof(sib), "%s%s", path, codings[i].ext);
    int fd = open_beneath(j, dir, sib);
    if (fd < 0 && errno == EAGAIN)
      j->again = 1; /* not cached: the pool looks again */
    if (fd < 0)
      continue;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      close(j->fd);
      j->fd = fd;
      j->st = st;
      j->encoding = codings[i].coding;
      return;
    }
    close(fd);
  }
}

/* Opens path beneath dir into j (fd and st), as a regular file or (when
 * dir_ok) a directory; else j->err. */
static void open_file(struct gw_static_job *j, int dir, const char *path, int dir_ok) {
  j->fd = open_beneath(j, dir, path[0] ? path : ".");
  if (j->fd < 0) {
    j->err = errno;
    j->again |= errno == EAGAIN;
    return;
  }
  if (fstat(j->fd, &j->st) != 0 ||
      !(S_ISREG(j->st.st_mode) || (dir_ok && S_ISDIR(j->st.st_mode)))) {
    close(j->fd); /* a device, a socket, a FIFO: never served */
    j->fd = -1;
    j->err = ENOENT;
    return;
  }
  snprintf(j->name, sizeof(j->name), "%s", path);
  if (S_ISREG(j->st.st_mode) && (j->want_br || j->want_gz))
    open_encoded(j, dir, path);
}

/* A directory: its index, or the redirect to its URL with the '/'. */
static void open_index(struct gw_static_job *j) {
  int dir = j->fd;
  j->fd = -1;
  if (!j->dir_url)
    j->redirect = 1;
  else if (j->index[0] == '\0')
    j->err = ENOENT;
  else
    open_file(j, dir, j->index, 0);
  close(dir);
}

/* The lookup of j->rel (and index, fallback) into j: fd and st, or err,
 * or redirect; with j->cached, j->again when the pool must do it. */
static void lookup_files(struct gw_static_job *j) {
  int root = open_root(j);
  if (root < 0) {
    j->err = errno;
    j->again |= errno == EAGAIN;
    return;
  }
  open_file(j, root, j->rel, 1);
  if (j->fd >= 0 && S_ISDIR(j->st.st_mode))
    open_index(j);
  int missing = j->err == ENOENT || j->err == ENOTDIR || j->err == EXDEV || j->err == ELOOP;
  if (j->fd < 0 && !j->redirect && missing && j->fallback[0] && !j->again) {
    j->err = 0;
    open_file(j, root, j->fallback, 0);
  }
  close(root);
}

/* Undoes a cached lookup that must be done again on the pool. */
static void lookup_reset(struct gw_static_job *j) {
  if (j->fd >= 0)
    close(j->fd);
  j->fd = -1;
  j->err = j->redirect = 0;
  j->again = j->cached = 0;
  j->encoding = NULL;
  j->name[0] = '\0';
}

/* A thread of the pool: no loop, no request. */
static void lookup(uv_work_t *w) {
  lookup_files(w->data);
}

/* ---- The job ---- */

static void job_free(struct gw_static_job *j) {
  if (j->fd >= 0)
    close(j->fd); /* a regular file opened for reading: closing it does not block */
  free(j);
}

/* The request is over (answered or abandoned): the job goes now, or when
 * what it has in flight comes back. */
static void job_release(struct gw_static_job *j) {
  j->req = NULL;
  if (!j->reading && !j->busy)
    job_free(j);
}

/* After a call that may have ended the request (a write that failed
 * closes the connection at once): 1 when it did, the job then freed
 * unless something is still in flight. */
static int job_ended(struct gw_static_job *j) {
  if (j->req != NULL)
    return 0;
  if (!j->reading && !j->busy)
    job_free(j);
  return 1;
}

static void read_next(struct gw_static_job *j);

/* n bytes read into j->buf (or a negative errno, or 0: the file shrank)
 * go to the client. Returns 1 when the next piece may be read now; 0
 * when the request ended, or waits for the client (gen->drained). */
static int deliver(struct gw_static_job *j, ssize_t n) {
  struct gw_req *req = j->req;
  if (n <= 0) { /* an error, or the file shrank: the length promised cannot be kept */
    sup_log(SUP_WARN, "static: %s: read failed: %s", j->name,
            n < 0 ? uv_strerror((int)n) : "the file shrank while it was sent");
    req->keepalive = 0;
    gw_req_abort(req, 1);
    return 0;
  }
  j->busy++;
  gw_req_send(req, j->buf, (size_t)n);
  j->busy--;
  if (job_ended(j))
    return 0;
  j->off += (uint64_t)n;
  j->left -= (uint64_t)n;
  if (j->left == 0) {
    job_release(j);
    req->u.file = NULL;
    gw_req_finish(req);
    return 0;
  }
  if (gw_req_want_drain(req))
    return 1;
  j->waiting = 1; /* gen->drained goes on */
  gw_req_timer(req, (uint64_t)req->srv->cfg->request_timeout_ms);
  return 0;
}

static void on_read(uv_fs_t *fs) {
  struct gw_static_job *j = fs->data;
  ssize_t n = fs->result;
  uv_fs_req_cleanup(fs);
  j->reading = 0;
  if (!job_ended(j) && deliver(j, n))
    read_next(j);
}

/* The next pieces: read on the loop while the page cache has them
 * (preadv2 RWF_NOWAIT never waits for a disk) and the client takes them;
 * a piece not cached is read on the pool (uv_fs_read), bounded by
 * request_timeout_ms. */
static void read_next(struct gw_static_job *j) {
  for (;;) {
    struct iovec v = {j->buf, j->left < CHUNK ? (size_t)j->left : CHUNK};
    ssize_t n = preadv2(j->fd, &v, 1, (off_t)j->off, RWF_NOWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS))
      break;
    if (!deliver(j, n < 0 ? -errno : n))
      return;
  }
  uv_buf_t b = uv_buf_init(j->buf, (unsigned)(j->left < CHUNK ? j->left : CHUNK));
  j->fs.data = j;
  gw_req_timer(j->req, (uint64_t)j->req->srv->cfg->request_timeout_ms); /* a read that hangs */
  int rc = uv_fs_read(j->req->srv->loop, &j->fs, j->fd, &b, 1, (int64_t)j->off, on_read);
  j->reading = 1;
  if (rc != 0) {
    j->fs.result = rc;
    on_read(&j->fs);
  }
}

/* Ends req with an answer that needs the job no more. */
static void done(struct gw_req *req) {
  job_release(req->u.file);
  req->u.file = NULL;
}

/* ---- The generator ---- */

static void on_abandon(struct gw_req *req) {
  if (req->u.file)
    job_release(req->u.file);
  req->u.file = NULL;
}

static void on_drained(struct gw_req *req) {
  struct gw_static_job *j = req->u.file;
  if (j && j->waiting) {
    j->waiting = 0;
    gw_req_timer(req, 0);
    read_next(j);
  }
}

/* request_timeout_ms without progress: the file system has not answered
 * the lookup (a hung disk or NFS mount: 504) or a read, or the client has
 * read nothing of the file (the answer is cut). */
static void on_timeout(struct gw_req *req) {
  struct gw_static_job *j = req->u.file;
  if (!req->head_sent && j != NULL) {
    sup_log(SUP_WARN, "static: %s/%s: no answer from the file system within %d ms", j->root, j->rel,
            req->srv->cfg->request_timeout_ms);
    done(req);
    gw_reply_error(req, 504, "the file system did not answer in time", NULL);
    return;
  }
  req->keepalive = 0;
  gw_req_abort(req, 0);
}

static const struct gw_gen static_gen = {
    .abandon = on_abandon, .timeout = on_timeout, .drained = on_drained};

/* ---- The answer ---- */

/* 301 to the directory's URL with its '/' (and the query). */
static void redirect(struct gw_req *req) {
  const char *path, *query;
  size_t plen, qlen;
  struct ipc_buf *b = &req->srv->scratch;
  gw_req_target(req, &path, &plen, &query, &qlen);
  while (plen > 1 && path[0] == '/' && path[1] == '/') {
    path++; /* "//evil.example/" would leave the site */
    plen--;
  }
  ipc_buf_reset(b);
  ipc_buf_add(b, path, plen);
  ipc_buf_addc(b, '/');
  if (query && qlen) {
    ipc_buf_addc(b, '?');
    ipc_buf_add(b, query, qlen);
  }
  struct ipc_header loc = {"location", 8, b->data, b->len};
  done(req);
  if (b->oom)
    gw_reply_error(req, 500, "out of memory", NULL);
  else
    gw_reply(req, 301, "text/plain; charset=utf-8", "Moved Permanently\n", 18, &loc, 1);
}

/* The answer when the lookup found nothing to send. */
static void not_found(struct gw_req *req, struct gw_static_job *j) {
  int e = j->err;
  done(req);
  if (e == ENOENT || e == ENOTDIR || e == EXDEV || e == ELOOP || e == ENAMETOOLONG)
    gw_reply_error(req, 404, "not found", NULL);
  else if (e == EACCES || e == EPERM)
    gw_reply_error(req, 403, "forbidden: muster may not read it", NULL);
  else {
    sup_log(SUP_ERROR, "static: %s/%s: %s", j->root, j->rel, strerror(e));
    gw_reply_error(req, 500, "the file could not be opened", NULL);
  }
}

/* 1 when the client's copy is current: If-None-Match, else
 * If-Modified-Since (RFC 9110 §13.2.2). */
static int not_modified(struct gw_req *req, const char *etag, int64_t mtime) {
  uint32_t n = 0;
  int64_t since;
  const char *v = gw_req_header(req, "if-none-match", &n);
  if (v)
    return gw_file_etag_match(v, n, etag);
  v = gw_req_header(req, "if-modified-since", &n);
  return v && gw_file_parse_date(v, n, &since) == 0 && mtime <= since;
}

/* The Range to answer (gw_file_range), If-Range checked: a validator that
 * is not the file's current one asks for all of it. */
static int want_range(struct gw_req *req, const char *etag, const char *lastmod, uint64_t size,
                      uint64_t *from, uint64_t *len) {
  uint32_t n = 0, in = 0;
  const char *v = gw_req_header(req, "range", &n), *ir = gw_req_header(req, "if-range", &in);
  if (v == NULL || strcmp(req->method, "GET") != 0)
    return 0;
  if (ir && !((in == strlen(etag) && memcmp(ir, etag, in) == 0) ||
              (in == UTIL_HTTP_DATE_LEN && memcmp(ir, lastmod, in) == 0)))
    return 0;
  return gw_file_range(v, n, size, from, len);
}

static void send_file(struct gw_req *req, struct gw_static_job *j) {
  char etag[GW_FILE_ETAG_MAX], lastmod[UTIL_HTTP_DATE_LEN + 1], cc[48], crange[80];
  uint64_t size = (uint64_t)j->st.st_size, from = 0, len = size;
  int64_t mtime = (int64_t)j->st.st_mtim.tv_sec;
  size_t elen = gw_file_etag(mtime, size, etag);
  if (util_http_date((time_t)(mtime < 0 ? 0 : mtime), lastmod) == 0)
    snprintf(lastmod, sizeof(lastmod), "Thu, 01 Jan 1970 00:00:00 GMT"); /* past 9999 */
  int cn = snprintf(cc, sizeof(cc), "public, max-age=%d", j->max_age_s);
  const char *type = gw_file_type(j->name);
  struct ipc_header h[8];
  size_t nh = 0;
  h[nh++] = (struct ipc_header){"etag", 4, etag, elen};
  h[nh++] = (struct ipc_header){"last-modified", 13, lastmod, UTIL_HTTP_DATE_LEN};
  h[nh++] = (struct ipc_header){"cache-control", 13, cc, (size_t)cn};
  if (j->precompressed) /* the answer depends on accept-encoding, whichever file it is */
    h[nh++] = (struct ipc_header){"vary", 4, "accept-encoding", 15};
  if (not_modified(req, etag, mtime)) {
    done(req);
    gw_req_respond(req, 304, h, nh, NULL, 0);
    return;
  }
  h[nh++] = (struct ipc_header){"accept-ranges", 13, "bytes", 5};
  h[nh++] = (struct ipc_header){"content-type", 12, type, strlen(type)};
  if (j->encoding)
    h[nh++] = (struct ipc_header){"content-encoding", 16, j->encoding, strlen(j->encoding)};
  int status = 200, r = want_range(req, etag, lastmod, size, &from, &len);
  if (r < 0) {
    int k = snprintf(crange, sizeof(crange), "bytes */%llu", (unsigned long long)size);
    struct ipc_header unsat = {"content-range", 13, crange, (size_t)k};
    done(req);
    gw_reply_error(req, 416, "range not satisfiable", &unsat);
    return;
  }
  if (r > 0) {
    int k = snprintf(crange, sizeof(crange), "bytes %llu-%llu/%llu", (unsigned long long)from,
                     (unsigned long long)(from + len - 1), (unsigned long long)size);
    h[nh++] = (struct ipc_header){"content-range", 13, crange, (size_t)k};
    status = 206;
  }
  gw_req_start_len(req, status, h, nh, (int64_t)len);
  if (j->req == NULL)
    return; /* writing the head closed the connection: abandoned */
  if (req->is_head || len == 0) {
    done(req);
    gw_req_finish(req);
    return;
  }
  j->off = from;
  j->left = len;
  read_next(j);
}

static void looked_up(uv_work_t *w, int status) {
  struct gw_static_job *j = w->data;
  struct gw_req *req = j->req;
  j->reading = 0;
  if (req == NULL) {
    job_free(j);
    return;
  }
  j->busy++;
  if (status == UV_ECANCELED) {
    done(req);
    gw_reply_error(req, 503, "muster is shutting down", NULL);
  } else if (j->redirect) {
    redirect(req);
  } else if (j->fd < 0) {
    not_found(req, j);
  } else {
    send_file(req, j);
  }
  j->busy--;
  job_ended(j);
}

/* ---- The handler ---- */

/* The static entry that answers req, or NULL: its route must match and
 * come before any service route that matches too. */
static const struct cfg_static *static_of(struct gw_req *req, size_t *plen) {
  struct gw_route *st = req->srv->statics.n ? gw_req_match(req, &req->srv->statics) : NULL;
  if (st == NULL)
    return NULL;
  struct gw_route *svc = gw_req_route(req);
  if (svc && gw_route_before(svc, st))
    return NULL;
  *plen = st->plen;
  return st->target;
}

static int on_head(const struct gw_handler *h, struct gw_req *req) {
  size_t plen;
  return static_of(req, &plen) ? GW_LATER : GW_DECLINED;
}

/* The config's settings the job keeps; 0, or -1 when a path does not fit
 * (it names no file the kernel would open). */
static int copy_config(struct gw_static_job *j, const struct cfg_static *st) {
  j->max_age_s = st->max_age_s;
  j->precompressed = st->precompressed;
  return snprintf(j->root, sizeof(j->root), "%s", st->root) < (int)sizeof(j->root) &&
                 snprintf(j->index, sizeof(j->index), "%s", st->index ? st->index : "") <
                     (int)sizeof(j->index) &&
                 snprintf(j->fallback, sizeof(j->fallback), "%s",
                          st->fallback ? st->fallback : "") < (int)sizeof(j->fallback)
             ? 0
             : -1;
}

/* Which precompressed files the client takes (accept-encoding). */
static void want_encodings(struct gw_req *req, struct gw_static_job *j) {
  uint32_t n = 0;
  const char *v = gw_req_header(req, "accept-encoding", &n);
  j->want_br = v && gw_file_accepts(v, n, "br");
  j->want_gz = v && gw_file_accepts(v, n, "gzip");
}

static int on_req(const struct gw_handler *h, struct gw_req *req) {
  static const struct ipc_header allow = {"allow", 5, "GET, HEAD", 9};
  size_t plen, n;
  const char *path;
  const struct cfg_static *st = static_of(req, &plen);
  if (st == NULL)
    return GW_DECLINED;
  /* The access log's and the metrics' service: "static:PREFIX" (no
   * service name has a ':'), so static traffic is not counted as 404s. */
  snprintf(req->service, sizeof(req->service), "static:%s", st->route.prefix);
  if (strcmp(req->method, "GET") != 0 && !req->is_head) {
    gw_reply_error(req, 405, "static files answer GET and HEAD only", &allow);
    return 0;
  }
  /* Not calloc: the paths and the buffer are written before read. */
  struct gw_static_job *j = malloc(sizeof(*j));
  if (j) {
    memset(j, 0, offsetof(struct gw_static_job, root));
    j->fd = -1; /* before anything may free it */
    j->rel[0] = j->name[0] = '\0';
  }
  if (j == NULL || copy_config(j, st) != 0) {
    const char *why = j ? "a configured path is too long" : "out of memory";
    free(j);
    gw_reply_error(req, 500, why, NULL);
    return 0;
  }
  if (st->precompressed)
    want_encodings(req, j);
  gw_req_target(req, &path, &n, NULL, NULL);
  int rc = gw_file_path(path + plen, n - plen, st->dotfiles, j->rel, sizeof(j->rel), &j->dir_url);
  if (rc != 0) {
    job_free(j);
    gw_reply_error(req, rc, rc == 400 ? "bad path: a bad %-escape or dot segment" : "not found",
                   NULL);
    return 0;
  }
  j->req = req;
  req->u.file = j;
  req->gen = &static_gen;
  j->work.data = j;
  j->cached = 1; /* first on the loop, from the caches only */
  lookup_files(j);
  if (!j->again) {
    j->cached = 0;
    looked_up(&j->work, 0);
    return 0;
  }
  lookup_reset(j);
  j->reading = 1;
  if (uv_queue_work(req->srv->loop, &j->work, lookup, looked_up) != 0) {
    j->reading = 0;
    done(req);
    gw_reply_error(req, 500, "the lookup could not start", NULL);
    return 0;
  }
  gw_req_timer(req, (uint64_t)req->srv->cfg->request_timeout_ms); /* a lookup that hangs */
  return 0;
}

const struct gw_handler gw_static_handler = {
    .name = "static", .on_req = on_req, .on_head = on_head};
