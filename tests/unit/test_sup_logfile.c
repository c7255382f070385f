/* Unit tests for sup_logfile (rotation, reopen, tail) and sup_capture (a
 * real child's stdout and stderr through libuv into a log file). Every test
 * works in its own mkdtemp directory, removed at the end. */
#include "sup_capture.h"
#include "sup_logfile.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* ---- Helpers ---- */

static char tmp[256]; /* this run's temp directory */

/* Returns tmp/name in a static buffer (one of four, so a few can be used
 * in one expression). */
static const char *at(const char *name) {
  static char bufs[4][512];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, sizeof(bufs[0]), "%s/%s", tmp, name);
  return b;
}

/* Returns the contents of path (malloc'd, NUL-terminated) or NULL when it
 * does not exist. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, len = 0;
  char *s = malloc(cap);
  size_t n;
  while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len - 1 == 0)
      s = realloc(s, cap *= 2);
  }
  s[len] = '\0';
  fclose(f);
  return s;
}

/* Checks that path holds exactly want (NULL: that it does not exist). */
#define CHECK_FILE(path, want)                                                                     \
  do {                                                                                             \
    char *got_ = slurp(path);                                                                      \
    if ((want) == NULL)                                                                            \
      CHECK(got_ == NULL);                                                                         \
    else                                                                                           \
      CHECK_STR(got_, (want));                                                                     \
    free(got_);                                                                                    \
  } while (0)

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static void put(const char *path, const char *s) {
  FILE *f = fopen(path, "wb");
  fputs(s, f);
  fclose(f);
}

/* rm -rf path (regular files and directories only). */
static void rm_rf(const char *path) {
  DIR *d = opendir(path);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      char sub[1024];
      snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
      rm_rf(sub);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* ---- sup_logfile ---- */

TEST(rotation_keep_2) {
  char err[256] = "";
  char p[512];
  snprintf(p, sizeof(p), "%s", at("r/svc.log")); /* r/ does not exist yet */
  struct sup_logfile *lf = sup_logfile_open(p, 10, 2, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  struct stat st;
  CHECK(stat(at("r"), &st) == 0 && S_ISDIR(st.st_mode));
  const char *lines[] = {"aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n", "ffff\n", "gggg\n"};
  for (int i = 0; i < 7; i++) {
    CHECK_INT(sup_logfile_write(lf, lines[i], 5), 0);
    CHECK(!exists(at("r/svc.log.3")));
    if (i == 1) { /* exactly max_bytes: no rotation yet */
      CHECK_FILE(p, "aaaa\nbbbb\n");
      CHECK(!exists(at("r/svc.log.1")));
    }
    if (i == 2) {
      CHECK_FILE(p, "cccc\n");
      CHECK_FILE(at("r/svc.log.1"), "aaaa\nbbbb\n");
      CHECK(!exists(at("r/svc.log.2")));
    }
    if (i == 4) {
      CHECK_FILE(p, "eeee\n");
      CHECK_FILE(at("r/svc.log.1"), "cccc\ndddd\n");
      CHECK_FILE(at("r/svc.log.2"), "aaaa\nbbbb\n");
    }
  }
  CHECK_FILE(p, "gggg\n");
  CHECK_FILE(at("r/svc.log.1"), "eeee\nffff\n");
  CHECK_FILE(at("r/svc.log.2"), "cccc\ndddd\n"); /* aaaa/bbbb dropped */
  CHECK(!exists(at("r/svc.log.3")));

  /* A record larger than max_bytes goes whole into a fresh file. */
  CHECK_INT(sup_logfile_write(lf, "0123456789ABCDEF\n", 17), 0);
  CHECK_FILE(p, "0123456789ABCDEF\n");
  CHECK_FILE(at("r/svc.log.1"), "gggg\n");
  CHECK_FILE(at("r/svc.log.2"), "eeee\nffff\n");
  CHECK_INT(sup_logfile_write(lf, "x\n", 2), 0);
  CHECK_FILE(p, "x\n");
  CHECK_FILE(at("r/svc.log.1"), "0123456789ABCDEF\n");
  CHECK(!exists(at("r/svc.log.3")));
  CHECK_INT(lf->dropped, 0);
  sup_logfile_close(lf);
}

/* flush: the file emptied (writes go on at its start), the rotated ones
 * gone, the bytes freed counted. */
TEST(flush_empties_every_file) {
  char err[256] = "", p[512];
  snprintf(p, sizeof(p), "%s", at("f/svc.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 10, 2, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  for (int i = 0; i < 5; i++) /* svc.log.2, svc.log.1 (10 bytes each), svc.log (5) */
    CHECK_INT(sup_logfile_write(lf, "abcd\n", 5), 0);
  CHECK(exists(at("f/svc.log.2")));
  CHECK(sup_logfile_flush(lf) == 25);
  CHECK_FILE(p, "");
  CHECK(!exists(at("f/svc.log.1")) && !exists(at("f/svc.log.2")));
  CHECK_INT(sup_logfile_write(lf, "next\n", 5), 0);
  CHECK_FILE(p, "next\n"); /* at the start: no hole where the old bytes were */
  CHECK(sup_logfile_flush(lf) == 5);
  CHECK(sup_logfile_flush(lf) == 0);
  sup_logfile_close(lf);
}

TEST(rotation_keep_0_truncates) {
  char err[256] = "";
  char p[512];
  snprintf(p, sizeof(p), "%s", at("k0.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 10, 0, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  CHECK_INT(sup_logfile_write(lf, "aaaa\n", 5), 0);
  CHECK_INT(sup_logfile_write(lf, "bbbb\n", 5), 0);
  CHECK_INT(sup_logfile_write(lf, "cccc\n", 5), 0);
  CHECK_FILE(p, "cccc\n");
  CHECK_INT(sup_logfile_write(lf, "dddd\n", 5), 0);
  CHECK_INT(sup_logfile_write(lf, "eeee\n", 5), 0);
  CHECK_FILE(p, "eeee\n");
  CHECK(!exists(at("k0.log.1")));
  sup_logfile_close(lf);
}

TEST(size_is_learned_at_open) {
  char err[256] = "";
  char p[512];
  snprintf(p, sizeof(p), "%s", at("old.log"));
  put(p, "12345678\n");
  struct sup_logfile *lf = sup_logfile_open(p, 10, 1, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  CHECK_INT(lf->size, 9);
  CHECK_INT(sup_logfile_write(lf, "ab\n", 3), 0);
  CHECK_FILE(p, "ab\n");
  CHECK_FILE(at("old.log.1"), "12345678\n");
  sup_logfile_close(lf);
}

TEST(reopen_after_rename) {
  char err[256] = "";
  char p[512];
  snprintf(p, sizeof(p), "%s", at("ro.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 0, 3, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  CHECK_INT(sup_logfile_write(lf, "one\n", 4), 0);
  CHECK_INT(rename(p, at("ro.log.moved")), 0); /* what logrotate does */
  CHECK_INT(sup_logfile_write(lf, "two\n", 4), 0);
  CHECK(!exists(p));
  CHECK_INT(sup_logfile_reopen(lf), 0);
  CHECK_INT(sup_logfile_write(lf, "three\n", 6), 0);
  CHECK_FILE(at("ro.log.moved"), "one\ntwo\n");
  CHECK_FILE(p, "three\n");
  CHECK_INT(lf->size, 6);
  sup_logfile_close(lf);
}

TEST(open_errors_name_the_path) {
  char err[1024] = "", want[1024];
  put(at("afile"), "x");
  char p[512];
  snprintf(p, sizeof(p), "%s", at("afile/x.log"));
  CHECK(sup_logfile_open(p, 0, 1, err, sizeof(err)) == NULL);
  snprintf(want, sizeof(want), "open \"%s\" failed: Not a directory", p);
  CHECK_STR(err, want);
  /* Only one missing level is created. */
  snprintf(p, sizeof(p), "%s", at("a/b/x.log"));
  CHECK(sup_logfile_open(p, 0, 1, err, sizeof(err)) == NULL);
  snprintf(want, sizeof(want), "mkdir \"%s\" failed: No such file or directory", at("a/b"));
  CHECK_STR(err, want);
}

TEST(failed_write_is_dropped_and_counted) {
  char err[256] = "";
  if (!exists("/dev/full"))
    return;
  struct sup_logfile *lf = sup_logfile_open("/dev/full", 1000, 1, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  CHECK_INT(sup_logfile_write(lf, "hello\n", 6), UV_ENOSPC);
  CHECK_INT(sup_logfile_write(lf, "again\n", 6), UV_ENOSPC);
  CHECK_INT(lf->dropped, 12);
  CHECK_INT(lf->last_err, UV_ENOSPC);
  sup_logfile_close(lf);
}

/* Checks that sup_logfile_tail(path, keep, n) returns want. */
static void check_tail(const char *path, int keep, size_t n, const char *want) {
  char *out = NULL;
  size_t len = 99;
  CHECK_INT(sup_logfile_tail(path, keep, n, SUP_LOGFILE_TAIL_MAX, &out, &len), 0);
  CHECK_STR(out, want);
  CHECK_INT(len, strlen(want));
  free(out);
}

TEST(tail_across_rotation) {
  char err[256] = "", line[16];
  char p[512];
  snprintf(p, sizeof(p), "%s", at("t.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 18, 2, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  check_tail(p, 2, 10, ""); /* empty */
  for (int i = 1; i <= 9; i++) {
    int n = snprintf(line, sizeof(line), "l%d\n", i); /* 6 lines per file */
    sup_logfile_write(lf, line, (size_t)n);
  }
  check_tail(p, 2, 0, "");
  check_tail(p, 2, 2, "l8\nl9\n");
  check_tail(p, 2, 3, "l7\nl8\nl9\n");
  check_tail(p, 2, 5, "l5\nl6\nl7\nl8\nl9\n");
  check_tail(p, 2, 100, "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n");
  check_tail(p, 0, 100, "l7\nl8\nl9\n"); /* keep 0: no path.1 */
  for (int i = 10; i <= 15; i++) {
    int n = snprintf(line, sizeof(line), "l%d\n", i);
    sup_logfile_write(lf, line, (size_t)n);
  }
  /* l1-l6 in .2 (never read), l7-l12 in .1, l13-l15 current */
  CHECK_FILE(at("t.log.2"), "l1\nl2\nl3\nl4\nl5\nl6\n");
  check_tail(p, 2, 100, "l7\nl8\nl9\nl10\nl11\nl12\nl13\nl14\nl15\n");
  check_tail(p, 2, 4, "l12\nl13\nl14\nl15\n");
  char *out = NULL; /* a byte limit: the newest whole lines within it, across files */
  size_t len = 0;
  CHECK_INT(sup_logfile_tail(p, 2, 100, 17, &out, &len), 0);
  CHECK_STR(out, "l12\nl13\nl14\nl15\n");
  free(out);
  CHECK_INT(sup_logfile_tail(p, 2, 100, 3, &out, &len), 0);
  CHECK_STR(out, "");
  free(out);
  sup_logfile_close(lf);

  check_tail(at("missing.log"), 2, 10, "");
  put(at("nonl.log"), "x\n\ny"); /* an empty line and no final "\n" */
  check_tail(at("nonl.log"), 0, 1, "y");
  check_tail(at("nonl.log"), 0, 2, "\ny");
  check_tail(at("nonl.log"), 0, 3, "x\n\ny");
  put(at("nonl.log.1"), "p\nq"); /* path.1 cut mid-line: still separated */
  check_tail(at("nonl.log"), 1, 5, "p\nq\nx\n\ny");
}

TEST(tail_of_a_long_file) {
  char err[256] = "", line[32];
  char p[512];
  snprintf(p, sizeof(p), "%s", at("long.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 0, 1, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  size_t cap = 200000, len = 0;
  char *want = malloc(cap);
  for (int i = 0; i < 10000; i++) { /* ~110 KB: many 16 KiB read steps */
    int n = snprintf(line, sizeof(line), "line %d\n", i);
    sup_logfile_write(lf, line, (size_t)n);
    if (i >= 10000 - 3001) {
      memcpy(want + len, line, (size_t)n);
      len += (size_t)n;
    }
  }
  want[len] = '\0';
  sup_logfile_close(lf);
  check_tail(p, 1, 3001, want);
  free(want);
}

/* ---- sup_capture with a real child ---- */

struct run {
  uv_loop_t loop;
  uv_process_t proc;
  uv_timer_t timer;
  struct sup_capture out, err;
  int exited, eofs, closed, timed_out;
  int64_t exit_status;
  char streams[256]; /* on_line's streams, comma separated */
  size_t hook_bytes; /* sum of on_line's lengths */
};

static void on_proc_closed(uv_handle_t *h) {
  (void)h;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct run *r = p->data;
  (void)sig;
  r->exited = 1;
  r->exit_status = status;
  uv_close((uv_handle_t *)p, on_proc_closed);
}

static void on_cap_closed(struct sup_capture *c) {
  struct run *r = c->data;
  r->closed++;
}

static void on_eof_cb(struct sup_capture *c) {
  struct run *r = c->data;
  r->eofs++;
  sup_capture_close(c, on_cap_closed);
}

static void on_line_cb(void *ctx, const char *label, const char *stream, const char *line,
                       size_t len) {
  struct run *r = ctx;
  (void)line;
  if (strcmp(label, "dummy[1]") != 0)
    r->timed_out = -1; /* wrong label: fail below */
  if (strcmp(stream, "err") == 0)
    return; /* its order against "out" is not fixed */
  if (r->streams[0] != '\0')
    strncat(r->streams, ",", sizeof(r->streams) - strlen(r->streams) - 1);
  strncat(r->streams, stream, sizeof(r->streams) - strlen(r->streams) - 1);
  r->hook_bytes += len;
}

static void on_timeout(uv_timer_t *t) {
  struct run *r = t->data;
  r->timed_out = 1;
  if (!r->exited)
    uv_process_kill(&r->proc, SIGKILL);
  sup_capture_close(&r->out, on_cap_closed);
  sup_capture_close(&r->err, on_cap_closed);
}

static void on_timer_closed(uv_handle_t *h) {
  (void)h;
}

/* Runs script under /bin/sh with stdout and stderr captured as
 * "dummy[1] out"/"err" into lf, until the child exited and both streams
 * ended (or 10 s passed). Returns 0 when all went as expected. */
static int run_child(struct run *r, struct sup_logfile *lf, const char *script, int hook) {
  memset(r, 0, sizeof(*r));
  CHECK_INT(uv_loop_init(&r->loop), 0);
  CHECK_INT(sup_capture_init(&r->out, &r->loop, lf, "dummy[1]", "out"), 0);
  CHECK_INT(sup_capture_init(&r->err, &r->loop, lf, "dummy[1]", "err"), 0);
  r->out.data = r->err.data = r;
  r->out.on_eof = r->err.on_eof = on_eof_cb;
  if (hook) {
    r->out.on_line = r->err.on_line = on_line_cb;
    r->out.ctx = r->err.ctx = r;
  }
  char *args[] = {"/bin/sh", "-c", (char *)script, NULL};
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r->out.pipe;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&r->err.pipe;
  uv_process_options_t opt;
  memset(&opt, 0, sizeof(opt));
  opt.file = args[0];
  opt.args = args;
  opt.exit_cb = on_exit_cb;
  opt.stdio = stdio;
  opt.stdio_count = 3;
  r->proc.data = r;
  int rc = uv_spawn(&r->loop, &r->proc, &opt);
  CHECK_INT(rc, 0);
  if (rc == 0) {
    CHECK_INT(sup_capture_start(&r->out), 0);
    CHECK_INT(sup_capture_start(&r->err), 0);
  } else {
    sup_capture_close(&r->out, on_cap_closed);
    sup_capture_close(&r->err, on_cap_closed);
  }
  uv_timer_init(&r->loop, &r->timer);
  r->timer.data = r;
  uv_timer_start(&r->timer, on_timeout, 10000, 0);
  uv_unref((uv_handle_t *)&r->timer); /* the loop ends with child and pipes */
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&r->timer, on_timer_closed);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&r->loop), 0); /* nothing left open */
  CHECK_INT(r->timed_out, 0);
  CHECK_INT(r->closed, 2);
  return rc;
}

/* Checks that rec is "<UTC stamp> dummy[1] <stream>: " + body, with the
 * stamp's date today (or yesterday, across midnight). */
static void check_record(const char *rec, size_t len, const char *stream, const char *body,
                         size_t blen, const char *day0, const char *day1) {
  char head[64];
  int hl = snprintf(head, sizeof(head), " dummy[1] %s: ", stream);
  const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  int ok = len == 24 + (size_t)hl + blen;
  for (int i = 0; ok && i < 24; i++)
    ok = shape[i] == 'd' ? (rec[i] >= '0' && rec[i] <= '9') : rec[i] == shape[i];
  ok = ok && (memcmp(rec, day0, 10) == 0 || memcmp(rec, day1, 10) == 0);
  ok = ok && memcmp(rec + 24, head, (size_t)hl) == 0 && memcmp(rec + 24 + hl, body, blen) == 0;
  if (!ok)
    printf("  record \"%.*s\"%s: expected stream %s, %zu body bytes\n", len > 80 ? 80 : (int)len,
           rec, len > 80 ? "..." : "", stream, blen);
  CHECK(ok);
}

static void utc_day(char *buf) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, 16, "%Y-%m-%d", &tm);
}

/* Several services' tails merged by time, ties in input order, the
 * newest lines kept within the count and the byte limit. */
TEST(merge_tails_by_time) {
  const char *a = "2026-12-03T10:00:00.001Z a[0] out: one\n"
                  "2026-12-03T10:00:00.005Z a[0] out: three\n"
                  "2026-12-03T10:00:00.009Z a[1] err: five"; /* no final newline */
  const char *b = "2026-12-03T10:00:00.003Z b[0] out: two\n"
                  "2026-12-03T10:00:00.005Z b[0] out: four (a tie)\n"; /* after a's */
  const char *texts[] = {a, b, ""};
  size_t lens[] = {strlen(a), strlen(b), 0};
  char *out;
  size_t len;
  CHECK_INT(sup_logfile_merge(texts, lens, 3, 100, 1 << 20, &out, &len), 0);
  CHECK_STR(out, "2026-12-03T10:00:00.001Z a[0] out: one\n"
                 "2026-12-03T10:00:00.003Z b[0] out: two\n"
                 "2026-12-03T10:00:00.005Z a[0] out: three\n"
                 "2026-12-03T10:00:00.005Z b[0] out: four (a tie)\n"
                 "2026-12-03T10:00:00.009Z a[1] err: five\n");
  CHECK_INT(len, strlen(out));
  free(out);
  CHECK_INT(sup_logfile_merge(texts, lens, 3, 2, 1 << 20, &out, &len), 0); /* the newest two */
  CHECK_STR(out, "2026-12-03T10:00:00.005Z b[0] out: four (a tie)\n"
                 "2026-12-03T10:00:00.009Z a[1] err: five\n");
  free(out);
  CHECK_INT(sup_logfile_merge(texts, lens, 3, 100, 50, &out, &len), 0); /* one line fits */
  CHECK_STR(out, "2026-12-03T10:00:00.009Z a[1] err: five\n");
  free(out);
  CHECK_INT(sup_logfile_merge(texts, lens, 0, 100, 50, &out, &len), 0); /* no service */
  CHECK_STR(out, "");
  CHECK_INT(len, 0);
  free(out);
  const char *c = "\nshort\n2026\n"; /* not log lines: compared as text, kept whole */
  const char *t2[] = {c};
  size_t l2[] = {strlen(c)};
  CHECK_INT(sup_logfile_merge(t2, l2, 1, 100, 1 << 20, &out, &len), 0);
  CHECK_STR(out, "\n2026\nshort\n");
  free(out);
}

TEST(capture_child_output) {
  char err[256] = "", day0[16], day1[16];
  char p[512];
  snprintf(p, sizeof(p), "%s", at("cap/dummy.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 0, 1, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  char z20000[20000], z16384[16384];
  memset(z20000, '0', sizeof(z20000));
  memset(z16384, '0', sizeof(z16384));
  struct run r;
  utc_day(day0);
  run_child(&r, lf,
            "printf 'a\\nb\\nspl'; sleep 0.1; printf 'it\\n'; echo oops >&2;"
            " printf '%020000d\\n' 0; printf '%016384d\\n' 0; printf partial",
            1);
  utc_day(day1);
  CHECK_INT(r.exited, 1);
  CHECK_INT(r.exit_status, 0);
  CHECK_INT(r.eofs, 2);
  CHECK_STR(r.streams, "out,out,out,out,out+,out,out");
  CHECK_INT(r.hook_bytes, 1 + 1 + 5 + 20000 + 16384 + 7);
  CHECK_INT(lf->dropped, 0);
  sup_logfile_close(lf);

  char *log = slurp(p);
  CHECK(log != NULL);
  if (log == NULL)
    return;
  struct {
    const char *stream, *body;
    size_t len;
  } want[] = {
      {"out", "a", 1},
      {"out", "b", 1},
      {"out", "split", 5},    /* joined across two reads */
      {"out", z20000, 16384}, /* a long line in pieces */
      {"out+", z20000, 20000 - 16384},
      {"out", z16384, 16384}, /* exactly the limit: one record */
      {"out", "partial", 7},  /* flushed at EOF */
  };
  size_t nwant = sizeof(want) / sizeof(want[0]), got = 0;
  int saw_err = 0;
  for (char *s = log, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
    size_t len = (size_t)(nl - s);
    if (len > 34 && memcmp(s + 24, " dummy[1] err: ", 15) == 0) {
      check_record(s, len, "err", "oops", 4, day0, day1);
      saw_err++;
      continue;
    }
    if (got < nwant)
      check_record(s, len, want[got].stream, want[got].body, want[got].len, day0, day1);
    got++;
  }
  CHECK_INT(got, nwant);
  CHECK_INT(saw_err, 1);
  CHECK(log[strlen(log) - 1] == '\n');
  free(log);
}

/* Closes the capture from the line hook: later lines get no hook call,
 * nothing is touched after free, the close callback still runs. */
static void on_line_close(void *ctx, const char *label, const char *stream, const char *line,
                          size_t len) {
  struct run *r = ctx;
  (void)label, (void)line, (void)len;
  strncat(r->streams, stream, sizeof(r->streams) - strlen(r->streams) - 1);
  sup_capture_close(&r->out, on_cap_closed);
}

TEST(capture_closed_from_line_hook) {
  char err[256] = "";
  char p[512];
  snprintf(p, sizeof(p), "%s", at("cap/hook.log"));
  struct sup_logfile *lf = sup_logfile_open(p, 0, 1, err, sizeof(err));
  CHECK(lf != NULL);
  if (lf == NULL)
    return;
  struct run r;
  memset(&r, 0, sizeof(r));
  /* run_child's hook is replaced by one that closes on the first line. */
  CHECK_INT(uv_loop_init(&r.loop), 0);
  CHECK_INT(sup_capture_init(&r.out, &r.loop, lf, "dummy[1]", "out"), 0);
  r.out.data = &r;
  r.out.on_eof = on_eof_cb;
  r.out.on_line = on_line_close;
  r.out.ctx = &r;
  char *args[] = {"/bin/sh", "-c", "printf 'x\\ny\\nz'", NULL};
  uv_stdio_container_t stdio[2];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&r.out.pipe;
  uv_process_options_t opt;
  memset(&opt, 0, sizeof(opt));
  opt.file = args[0];
  opt.args = args;
  opt.exit_cb = on_exit_cb;
  opt.stdio = stdio;
  opt.stdio_count = 2;
  r.proc.data = &r;
  CHECK_INT(uv_spawn(&r.loop, &r.proc, &opt), 0);
  CHECK_INT(sup_capture_start(&r.out), 0);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&r.loop), 0);
  CHECK_STR(r.streams, "out"); /* one hook call only */
  CHECK_INT(r.closed, 1);
  sup_logfile_close(lf);
  char *log = slurp(p);
  CHECK(log != NULL && strstr(log, " dummy[1] out: x\n") != NULL);
  free(log);
}

TEST(capture_init_and_close_without_spawn) {
  uv_loop_t loop;
  struct sup_capture c;
  struct run r;
  memset(&r, 0, sizeof(r));
  CHECK_INT(uv_loop_init(&loop), 0);
  CHECK_INT(sup_capture_init(&c, &loop, NULL, "x[0]", "err"), 0);
  CHECK_STR(c.cont, "err+");
  c.data = &r;
  sup_capture_close(&c, on_cap_closed);
  sup_capture_close(&c, on_cap_closed); /* a second close does nothing */
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(r.closed, 1);
  CHECK_INT(uv_loop_close(&loop), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const char *base = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
  snprintf(tmp, sizeof(tmp), "%s/muster-logfile-XXXXXX", base);
  if (mkdtemp(tmp) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  RUN(rotation_keep_2);
  RUN(rotation_keep_0_truncates);
  RUN(flush_empties_every_file);
  RUN(size_is_learned_at_open);
  RUN(reopen_after_rename);
  RUN(open_errors_name_the_path);
  RUN(failed_write_is_dropped_and_counted);
  RUN(tail_across_rotation);
  RUN(tail_of_a_long_file);
  RUN(merge_tails_by_time);
  RUN(capture_child_output);
  RUN(capture_closed_from_line_hook);
  RUN(capture_init_and_close_without_spawn);
  rm_rf(tmp);
  if (exists(tmp)) {
    printf("could not remove %s\n", tmp);
    return 1;
  }
  return test_summary();
}
