/* ctl_client_top — musterctl top: a live full-screen view, like `pm2
 * monit`. See ctl_client_tools.h.
 *
 * Once a second: `status` (per instance CPU %, RSS, in-flight, requests
 * — turned into requests/s against the previous reading — and restarts)
 * and the last lines of the selected service's log, drawn with plain ANSI
 * escapes on the alternate screen. Keys: q quits, j/k or the arrow keys
 * move the selection. No curses: the terminal is put in non-canonical mode
 * without echo and restored on every way out. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl_client_conn.h"
#include "ctl_client_fmt.h"
#include "ctl_client_tools.h"

#define TICK_MS 1000    /* refresh period */
#define RATE_MIN_MS 500 /* requests/s over at least this long */
#define REPLY_MS 5000   /* muster answers a status in far less */

/* ---- The frame (pure) ---- */

static const cJSON *field(const cJSON *o, const char *k) {
  return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = field(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = field(o, k);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

/* Appends text (len bytes) as one screen line of at most width columns:
 * control characters shown as '?', UTF-8 counted by characters; then
 * clears to the end of the line. attr is an SGR parameter ("7") or NULL. */
static void put_line(struct ipc_buf *b, const char *text, size_t len, int width, const char *attr,
                     int last) {
  int cols = 0;
  if (attr) {
    ipc_buf_adds(b, "\x1b[");
    ipc_buf_adds(b, attr);
    ipc_buf_addc(b, 'm');
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    int cont = (ch & 0xC0) == 0x80;
    if (!cont && cols >= width)
      break;
    cols += !cont;
    ipc_buf_addc(b, ch < 0x20 || ch == 0x7f ? '?' : (char)ch);
  }
  if (attr) /* the highlight spans the whole line */
    for (; cols < width; cols++)
      ipc_buf_addc(b, ' ');
  ipc_buf_adds(b, attr ? "\x1b[0m\x1b[K" : "\x1b[K");
  if (!last)
    ipc_buf_adds(b, "\r\n");
}

/* Formats one table row into out. */
static void row(char *out, size_t n, int mark, const char *name, const char *idx, const char *pid,
                const char *state, double cpu, const char *rss, long inflight, const char *rate,
                long restarts, const char *uptime) {
  snprintf(out, n, "%c %-14.14s %3s %7s  %-9s %5.1f %7s %8ld %8s %8ld %7s", mark ? '>' : ' ', name,
           idx, pid, state, cpu, rss, inflight, rate, restarts, uptime);
}

/* Finds the previous reading of key, or NULL. */
static struct ctl_top_prev *prev_find(struct ctl_top_view *v, const char *key) {
  for (size_t i = 0; i < v->nprev; i++)
    if (strcmp(v->prev[i].key, key) == 0)
      return &v->prev[i];
  return NULL;
}

void ctl_client_top_select(struct ctl_top_view *v, const cJSON *status) {
  const cJSON *svcs = field(status, "services");
  int n = cJSON_IsArray(svcs) ? cJSON_GetArraySize(svcs) : 0;
  v->nservices = n;
  if (v->selected >= n)
    v->selected = n - 1;
  if (v->selected < 0)
    v->selected = 0;
  const cJSON *sel = n ? cJSON_GetArrayItem(svcs, v->selected) : NULL;
  snprintf(v->selected_name, sizeof(v->selected_name), "%s", sel ? str(sel, "name") : "");
}

/* The requests/s of inst (key) at now_ms, recorded into next[*nnext]. */
static double rate_of(struct ctl_top_view *v, const char *key, double requests, long long now_ms,
                      int fresh, struct ctl_top_prev *next, size_t *nnext, int *known) {
  struct ctl_top_prev *p = prev_find(v, key);
  double dt = (double)(now_ms - v->prev_ms) / 1000;
  double r = 0;
  if (p && !fresh)
    r = p->rate; /* redrawn between readings (a key): as shown last */
  else if (p && requests >= p->requests)
    r = (requests - p->requests) / dt;
  *known = p != NULL;
  if (fresh && next) {
    snprintf(next[*nnext].key, sizeof(next->key), "%s", key);
    next[*nnext].requests = requests;
    next[(*nnext)++].rate = r;
  }
  return r;
}

/* Appends the rows of one service and its instances; sums for its row. */
static void service_rows(struct ipc_buf *b, struct ctl_top_view *v, const cJSON *svc, int mark,
                         long long now_ms, int fresh, struct ctl_top_prev *next, size_t *nnext,
                         int *rows_left) {
  char line[256], key[96], pid[16], idx[8], rss[16], rate[16], up[16];
  double cpu = 0, rsum = 0, rtotal = 0;
  long inflight = 0;
  int any_rate = 0, known;
  const cJSON *inst, *insts = field(svc, "instances");
  cJSON_ArrayForEach(inst, insts) {
    snprintf(key, sizeof(key), "%s/%d/%d", str(svc, "name"), (int)num(inst, "index"),
             (int)num(inst, "pid"));
    rtotal += rate_of(v, key, num(inst, "requests"), now_ms, fresh, next, nnext, &known);
    any_rate |= known;
    cpu += num(inst, "cpu_percent");
    rsum += num(inst, "rss_bytes");
    inflight += (long)num(inst, "inflight");
  }
  ctl_client_bytes(rss, sizeof(rss), (long long)rsum);
  snprintf(rate, sizeof(rate), any_rate ? "%.1f" : "-", rtotal);
  row(line, sizeof(line), mark, str(svc, "name"), "-", "-", str(svc, "state"), cpu, rss, inflight,
      rate, (long)num(svc, "restarts"), "-");
  if ((*rows_left)-- > 0)
    put_line(b, line, strlen(line), v->width, mark ? "7" : "1", 0);
  cJSON_ArrayForEach(inst, insts) {
    int p = (int)num(inst, "pid");
    snprintf(key, sizeof(key), "%s/%d/%d", str(svc, "name"), (int)num(inst, "index"), p);
    double r = rate_of(v, key, num(inst, "requests"), now_ms, 0, NULL, NULL, &known);
    snprintf(idx, sizeof(idx), "%d", (int)num(inst, "index"));
    snprintf(pid, sizeof(pid), p ? "%d" : "-", p);
    ctl_client_bytes(rss, sizeof(rss), (long long)num(inst, "rss_bytes"));
    snprintf(rate, sizeof(rate), known ? "%.1f" : "-", r);
    ctl_client_duration(up, sizeof(up), (long long)num(inst, "uptime_ms"));
    row(line, sizeof(line), 0, "", idx, pid, str(inst, "state"), num(inst, "cpu_percent"),
        p ? rss : "-", (long)num(inst, "inflight"), rate, (long)num(inst, "restarts"),
        p ? up : "-");
    if ((*rows_left)-- > 0)
      put_line(b, line, strlen(line), v->width, NULL, 0);
  }
}

/* Counts instances and ready ones over every service. */
static void totals(const cJSON *svcs, int *ready, int *all) {
  const cJSON *svc, *inst;
  *ready = *all = 0;
  cJSON_ArrayForEach(svc, svcs) {
    cJSON_ArrayForEach(inst, field(svc, "instances")) {
      (*all)++;
      *ready += strcmp(str(inst, "state"), "ready") == 0;
    }
  }
}

void ctl_client_top_frame(struct ipc_buf *b, struct ctl_top_view *v, const char *title,
                          const cJSON *status, const cJSON *logs, long long now_ms) {
  char line[512];
  const cJSON *svc, *svcs = field(status, "services");
  int fresh = v->prev_ms == 0 || now_ms - v->prev_ms >= RATE_MIN_MS, ready, all, k = 0;
  size_t cap = 1, nnext = 0;
  ctl_client_top_select(v, status);
  cJSON_ArrayForEach(svc, svcs) cap += (size_t)cJSON_GetArraySize(field(svc, "instances"));
  struct ctl_top_prev *next = fresh ? calloc(cap, sizeof(*next)) : NULL;
  fresh = next != NULL;
  totals(svcs, &ready, &all);
  ipc_buf_adds(b, "\x1b[H");
  put_line(b, title, strlen(title), v->width, "7", 0);
  snprintf(line, sizeof(line), "%d services, %d/%d instances ready", v->nservices, ready, all);
  put_line(b, line, strlen(line), v->width, NULL, 0);
  snprintf(line, sizeof(line), "  %-14s %3s %7s  %-9s %5s %7s %8s %8s %8s %7s", "SERVICE", "#",
           "PID", "STATE", "CPU%", "RSS", "INFLIGHT", "REQ/S", "RESTARTS", "UPTIME");
  put_line(b, line, strlen(line), v->width, "1", 0);
  /* Rows for the table: what is left after the three above and three
   * below (a blank, the log's title, one log line). */
  int rows_left = v->height - 6, used = 3;
  int before = rows_left;
  cJSON_ArrayForEach(svc, svcs) {
    service_rows(b, v, svc, k == v->selected, now_ms, fresh, next, &nnext, &rows_left);
    k++;
  }
  used += before > 0 ? before - (rows_left > 0 ? rows_left : 0) : 0;
  if (fresh) {
    free(v->prev);
    v->prev = next;
    v->nprev = nnext;
    v->prev_ms = now_ms;
  }
  /* The selected service's log fills the rest of the screen. */
  const cJSON *lines = field(logs, "lines");
  int room = v->height - used - 2;
  if (room >= 0 && used + 1 < v->height) {
    put_line(b, "", 0, v->width, NULL, 0);
    snprintf(line, sizeof(line), "-- logs: %s --", v->selected_name);
    put_line(b, line, strlen(line), v->width, "1", room == 0);
    int n = cJSON_IsArray(lines) ? cJSON_GetArraySize(lines) : 0;
    for (int i = n > room ? n - room : 0, shown = 0; i < n; i++, shown++) {
      const char *t = cJSON_GetStringValue(cJSON_GetArrayItem(lines, i));
      put_line(b, t ? t : "", t ? strlen(t) : 0, v->width, NULL, shown + 1 == room);
    }
  }
  ipc_buf_adds(b, "\x1b[J");
}

void ctl_client_top_view_free(struct ctl_top_view *v) {
  free(v->prev);
  v->prev = NULL;
  v->nprev = 0;
}

/* ---- The terminal and the loop ---- */

static volatile sig_atomic_t top_quit, top_resized;

static void on_quit_signal(int sig) {
  (void)sig;
  top_quit = 1;
}

static void on_winch(int sig) {
  (void)sig;
  top_resized = 1;
}

/* Installs handler for sig without SA_RESTART, so poll(2) wakes up. */
static void catch_signal(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* Writes all of b to stdout. Returns 0 or -errno. */
static int flush_out(struct ipc_buf *b) {
  size_t off = 0;
  while (off < b->len) {
    ssize_t w = write(STDOUT_FILENO, b->data + off, b->len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    off += (size_t)w;
  }
  ipc_buf_reset(b);
  return 0;
}

static void term_size(struct ctl_top_view *v) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    v->width = ws.ws_col;
    v->height = ws.ws_row;
  } else {
    v->width = 80;
    v->height = 24;
  }
}

/* Sends req and waits for its reply (signals do not cut the wait short,
 * so replies never get out of step with requests). Returns as
 * ctl_client_conn_call; 0 when no reply came within REPLY_MS. */
static int request(struct ctl_client_conn *c, const char *req, cJSON **out) {
  long long deadline = ctl_client_now_ms() + REPLY_MS;
  int rc = ctl_client_conn_send(c, req);
  *out = NULL;
  while (rc == 0 && ctl_client_now_ms() < deadline)
    rc = ctl_client_conn_recv(c, (int)(deadline - ctl_client_now_ms()), out);
  return rc;
}

/* The `logs` request for the selected service (owned text), or NULL. */
static char *logs_request(const struct ctl_top_view *v) {
  if (v->selected_name[0] == '\0')
    return NULL;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "cmd", "logs");
  cJSON_AddStringToObject(o, "service", v->selected_name);
  cJSON_AddNumberToObject(o, "lines", v->height > 1 ? v->height : 1);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* Reads the keys waiting on stdin: moves the selection, sets *quit.
 * Returns 1 when the screen must be drawn again. */
static int read_keys(struct ctl_top_view *v, int *quit) {
  char k[64];
  ssize_t n = read(STDIN_FILENO, k, sizeof(k));
  int moved = 0;
  if (n == 0)
    *quit = 1; /* the terminal went away */
  for (ssize_t i = 0; i < n; i++) {
    int down = k[i] == 'j', up = k[i] == 'k';
    if (k[i] == 'q' || k[i] == 'Q')
      *quit = 1;
    if (k[i] == 0x1b && i + 2 < n && (k[i + 1] == '[' || k[i + 1] == 'O')) {
      down = k[i + 2] == 'B';
      up = k[i + 2] == 'A';
      i += 2;
    }
    if (down && v->selected + 1 < v->nservices)
      v->selected++, moved = 1;
    if (up && v->selected > 0)
      v->selected--, moved = 1;
  }
  return moved;
}

/* Fetches status and logs and draws one frame. Returns 0, or 1 with the
 * reason in err when muster cannot be asked. */
static int draw(struct ctl_client_conn *c, struct ctl_top_view *v, const char *title,
                struct ipc_buf *out, char *err, size_t errlen) {
  cJSON *status = NULL, *logs = NULL;
  int rc = request(c, "{\"cmd\":\"status\"}", &status);
  if (rc <= 0 || !cJSON_IsTrue(field(status, "ok"))) {
    snprintf(err, errlen, "status from muster failed: %s",
             rc == 0  ? "no reply"
             : rc < 0 ? strerror(-rc)
                      : str(status, "error"));
    cJSON_Delete(status);
    return 1;
  }
  ctl_client_top_select(v, status);
  char *req = logs_request(v);
  int lrc = req != NULL ? request(c, req, &logs) : 0;
  if (lrc < 0) {
    snprintf(err, errlen, "logs from muster failed");
    rc = lrc;
  }
  free(req);
  if (rc >= 0) {
    ctl_client_top_frame(out, v, title, status, logs, ctl_client_now_ms());
    flush_out(out);
  }
  cJSON_Delete(status);
  cJSON_Delete(logs);
  return rc < 0;
}

int ctl_client_top(int fd, const char *path) {
  struct termios saved, raw;
  struct ctl_top_view v;
  struct ctl_client_conn c;
  struct ipc_buf out;
  char title[256], err[256] = "";
  int quit = 0, code = 0;
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0) {
    fprintf(stderr, "musterctl: top needs a terminal (use `musterctl status` in scripts)\n");
    close(fd);
    return 2;
  }
  memset(&v, 0, sizeof(v));
  ctl_client_conn_init(&c, fd);
  ipc_buf_init(&out);
  raw = saved;
  raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
  catch_signal(SIGINT, on_quit_signal);
  catch_signal(SIGTERM, on_quit_signal);
  catch_signal(SIGHUP, on_quit_signal);
  catch_signal(SIGWINCH, on_winch);
  ipc_buf_adds(&out, "\x1b[?1049h\x1b[?25l\x1b[2J"); /* alternate screen, no cursor */
  snprintf(title, sizeof(title), "muster top  %s   q quit, j/k or arrows select", path);
  term_size(&v);
  long long next = 0;
  while (!quit && !top_quit) {
    long long now = ctl_client_now_ms();
    if (now >= next || top_resized) {
      top_resized = 0;
      term_size(&v);
      if (draw(&c, &v, title, &out, err, sizeof(err)) != 0) {
        code = 1;
        break;
      }
      if (now >= next)
        next = now + TICK_MS;
      continue;
    }
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int rc = poll(&p, 1, (int)(next - now));
    if (rc > 0 && read_keys(&v, &quit) && !quit)
      top_resized = 1; /* draw at once with the new selection */
  }
  ipc_buf_adds(&out, "\x1b[0m\x1b[?25h\x1b[?1049l");
  flush_out(&out);
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (err[0])
    fprintf(stderr, "musterctl: top: %s\n", err);
  ipc_buf_free(&out);
  ctl_client_top_view_free(&v);
  ctl_client_conn_close(&c);
  return code;
}
