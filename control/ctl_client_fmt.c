/* ctl_client_fmt — musterctl's requests and human output. See ctl_client_fmt.h. */
#include "ctl_client_fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "ipc_text.h"
#include "util_vec.h"

/* The commands are the server's table (ctl_cmd). */

const char *ctl_client_cmd_name(enum ctl_cmd_type cmd) {
  return cmd == CTL_NONE ? "" : ctl_cmd_name(cmd);
}

int ctl_client_cmd_find(const char *word, enum ctl_cmd_type *out) {
  return ctl_cmd_find(word, out);
}

int ctl_client_cmd_service(enum ctl_cmd_type cmd) {
  return ctl_cmd_service(cmd);
}

int ctl_client_streams(const struct ctl_client_req *r) {
  return r->cmd == CTL_EVENTS || (r->cmd == CTL_LOGS && r->follow);
}

void ctl_client_request(struct ipc_buf *b, const struct ctl_client_req *r) {
  const char *name = ctl_client_cmd_name(r->cmd);
  ipc_buf_adds(b, "{\"cmd\":");
  ipc_json_str(b, name, strlen(name));
  if (r->service != NULL) {
    ipc_buf_adds(b, ",\"service\":");
    ipc_json_str(b, r->service, strlen(r->service));
  }
  if (r->cmd == CTL_SCALE) {
    ipc_buf_adds(b, r->add ? ",\"instances\":\"+" : ",\"instances\":");
    ipc_buf_addi(b, r->n);
    if (r->add)
      ipc_buf_addc(b, '"');
  } else if (r->cmd == CTL_PUBLISH) {
    ipc_buf_adds(b, ",\"topic\":");
    ipc_json_str(b, r->topic, strlen(r->topic));
    ipc_buf_adds(b, ",\"data\":");
    ipc_json_str(b, r->data, strlen(r->data));
  } else if (r->cmd == CTL_SIGNAL) {
    ipc_buf_adds(b, ",\"signal\":");
    ipc_json_str(b, r->data, strlen(r->data));
  } else if (r->cmd == CTL_ENV) {
    ipc_buf_adds(b, ",\"index\":");
    ipc_buf_addi(b, r->n);
  } else if (r->cmd == CTL_LOGS) {
    ipc_buf_adds(b, ",\"lines\":");
    ipc_buf_addi(b, r->n);
    if (r->follow)
      ipc_buf_adds(b, ",\"follow\":true");
  }
  ipc_buf_adds(b, "}\n");
}

/* ---- Values ---- */

void ctl_client_duration(char *out, size_t size, long long ms) {
  long long s = ms > 0 ? ms / 1000 : 0;
  if (s < 60)
    snprintf(out, size, "%llds", s);
  else if (s < 3600)
    snprintf(out, size, "%lldm%llds", s / 60, s % 60);
  else if (s < 86400)
    snprintf(out, size, "%lldh%lldm", s / 3600, s % 3600 / 60);
  else
    snprintf(out, size, "%lldd%lldh", s / 86400, s % 86400 / 3600);
}

void ctl_client_bytes(char *out, size_t size, long long n) {
  static const char units[] = "KMGTP";
  if (n < 1024) {
    snprintf(out, size, "%lldB", n > 0 ? n : 0);
    return;
  }
  double v = (double)n / 1024;
  size_t u = 0;
  /* 1023.95 and up would print as "1024.0": that is 1.0 of the next unit. */
  while (v >= 1023.95 && u + 1 < sizeof(units) - 1) {
    v /= 1024;
    u++;
  }
  snprintf(out, size, "%.1f%c", v, units[u]);
}

/* Reads the integer field key of o into *out. Returns 1, or 0 when it is
 * absent or not a number that fits (the caller shows "?"). */
static int int_field(const cJSON *o, const char *key, long long *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= 9e15))
    return 0;
  *out = (long long)v->valuedouble;
  return 1;
}

/* The string field key of o (borrowed), or NULL when absent or not a string. */
static const char *str_field(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Appends s with control characters shown as '?': names and details come
 * from the server and must not drive the terminal. */
static void add_clean(struct ipc_buf *b, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    ipc_buf_addc(b, c < 0x20 || c == 0x7f ? '?' : (char)c);
  }
}

/* ---- Status table ---- */

enum {
  COL_SERVICE = 0,
  COL_INDEX,
  COL_PID,
  COL_STATE,
  COL_UPTIME,
  COL_RESTARTS,
  COL_CPU,
  COL_RSS,
  COL_INFLIGHT,
  COL_REQUESTS,
  COL_EXIT,
  COL_ADDR, /* only when an instance has an address (upstream services) */
  NCOLS
};

static const struct {
  const char *head; /* the header cell */
  int right;        /* right-aligned (numbers) */
} cols[NCOLS] = {
    [COL_SERVICE] = {"SERVICE", 0},   [COL_INDEX] = {"#", 1},
    [COL_PID] = {"PID", 1},           [COL_STATE] = {"STATE", 0},
    [COL_UPTIME] = {"UPTIME", 1},     [COL_RESTARTS] = {"RESTARTS", 1},
    [COL_CPU] = {"CPU", 1},           [COL_RSS] = {"RSS", 1},
    [COL_INFLIGHT] = {"INFLIGHT", 1}, [COL_REQUESTS] = {"REQUESTS", 1},
    [COL_EXIT] = {"LAST EXIT", 0},    [COL_ADDR] = {"ADDRESS", 0},
};

#define CELL_MAX 80 /* longer cells (names up to 64 bytes) are cut */

struct row {
  char cell[NCOLS][CELL_MAX];
};

struct table {
  struct row *rows; /* owned */
  size_t n, cap;
  int oom;      /* a row could not be added */
  int has_addr; /* some instance has an address: the ADDRESS column shows */
};

/* Adds an empty row (every cell "-"). Returns it, or NULL out of memory. */
static struct row *table_add(struct table *t) {
  if (util_vec_reserve(&t->rows, &t->cap, t->n + 1) != 0) {
    t->oom = 1;
    return NULL;
  }
  struct row *r = &t->rows[t->n++];
  for (int c = 0; c < NCOLS; c++)
    snprintf(r->cell[c], CELL_MAX, "-");
  return r;
}

/* Sets a cell to s with control characters replaced. */
static void cell_set(struct row *r, int col, const char *s) {
  size_t i = 0;
  for (; s[i] && i + 1 < CELL_MAX; i++) {
    unsigned char c = (unsigned char)s[i];
    r->cell[col][i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
  }
  r->cell[col][i] = '\0';
}

static void cell_int(struct row *r, int col, int have, long long v) {
  if (have)
    snprintf(r->cell[col], CELL_MAX, "%lld", v);
  else
    snprintf(r->cell[col], CELL_MAX, "?");
}

/* Sets a number cell from the integer field key of o ("?" if it has
 * none) and adds the number to *sum. */
static void cell_field(struct row *r, int col, const cJSON *o, const char *key, long long *sum) {
  long long v = 0;
  int have = int_field(o, key, &v);
  cell_int(r, col, have, v);
  if (have && sum != NULL)
    *sum += v;
}

/* Columns on a terminal: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static void add_pad(struct ipc_buf *b, size_t n) {
  while (n-- > 0)
    ipc_buf_addc(b, ' ');
}

/* Appends the table, header first, columns two spaces apart, no trailing
 * blanks. */
static void table_print(struct ipc_buf *b, const struct table *t) {
  size_t width[NCOLS];
  int ncols = t->has_addr ? NCOLS : COL_ADDR;
  for (int c = 0; c < ncols; c++) {
    width[c] = text_width(cols[c].head);
    for (size_t i = 0; i < t->n; i++) {
      size_t w = text_width(t->rows[i].cell[c]);
      width[c] = w > width[c] ? w : width[c];
    }
  }
  for (size_t i = 0; i <= t->n; i++) {
    for (int c = 0; c < ncols; c++) {
      const char *s = i == 0 ? cols[c].head : t->rows[i - 1].cell[c];
      size_t pad = width[c] - text_width(s);
      if (c > 0)
        ipc_buf_adds(b, "  ");
      if (cols[c].right)
        add_pad(b, pad);
      ipc_buf_adds(b, s);
      if (!cols[c].right && c + 1 < ncols)
        add_pad(b, pad);
    }
    ipc_buf_addc(b, '\n');
  }
}

/* How the last exit reads: "-" (none), "SIGKILL", or the exit code. */
static void last_exit_cell(struct row *r, const cJSON *inst) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(inst, "last_exit");
  long long sig = 0;
  if (e == NULL || cJSON_IsNull(e))
    return;
  if (!cJSON_IsObject(e)) {
    cell_set(r, COL_EXIT, "?");
    return;
  }
  if (int_field(e, "signal", &sig) && sig > 0) {
    const char *abbrev = sig < 1000 ? sigabbrev_np((int)sig) : NULL;
    if (abbrev != NULL)
      snprintf(r->cell[COL_EXIT], CELL_MAX, "SIG%s", abbrev);
    else
      snprintf(r->cell[COL_EXIT], CELL_MAX, "signal %lld", sig);
  } else {
    cell_field(r, COL_EXIT, e, "code", NULL);
  }
}

/* A CPU share as pm2 ls shows it: "3%", "12.5%" (one decimal, 100% = one
 * core). */
static void cpu_cell(struct row *r, double pct) {
  long long t = (long long)(pct * 10 + 0.5);
  if (t % 10 == 0)
    snprintf(r->cell[COL_CPU], CELL_MAX, "%lld%%", t / 10);
  else
    snprintf(r->cell[COL_CPU], CELL_MAX, "%lld.%lld%%", t / 10, t % 10);
}

/* Sums of a service's instances, shown on its own row. */
struct totals {
  long long restarts, rss, inflight, requests;
  double cpu;  /* percent, over the instances with a process */
  int any_rss; /* some instance has a process */
  int any_cpu; /* some instance has a CPU figure */
};

/* Fills the row of one instance of service name and adds it to tot;
 * *has_addr is set when it has an address. */
static void instance_row(struct row *r, const char *name, const cJSON *inst, struct totals *tot,
                         int *has_addr) {
  long long pid = 0, v = 0;
  const char *state = str_field(inst, "state");
  const char *addr = str_field(inst, "address");
  cell_set(r, COL_SERVICE, name);
  cell_field(r, COL_INDEX, inst, "index", NULL);
  int have_pid = int_field(inst, "pid", &pid);
  if (!have_pid || pid > 0)
    cell_int(r, COL_PID, have_pid, pid);
  cell_set(r, COL_STATE, state ? state : "?");
  if (pid > 0) {
    if (int_field(inst, "uptime_ms", &v))
      ctl_client_duration(r->cell[COL_UPTIME], CELL_MAX, v);
    else
      cell_set(r, COL_UPTIME, "?");
    if (int_field(inst, "rss_bytes", &v)) {
      ctl_client_bytes(r->cell[COL_RSS], CELL_MAX, v);
      tot->rss += v;
      tot->any_rss = 1;
    } else {
      cell_set(r, COL_RSS, "?");
    }
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(inst, "cpu_percent");
    if (cJSON_IsNumber(cpu) && cpu->valuedouble >= 0 && cpu->valuedouble <= 1e6) {
      cpu_cell(r, cpu->valuedouble);
      tot->cpu += cpu->valuedouble;
      tot->any_cpu = 1;
    } else {
      cell_set(r, COL_CPU, "?");
    }
  }
  cell_field(r, COL_RESTARTS, inst, "restarts", &tot->restarts);
  cell_field(r, COL_INFLIGHT, inst, "inflight", &tot->inflight);
  cell_field(r, COL_REQUESTS, inst, "requests", &tot->requests);
  last_exit_cell(r, inst);
  if (addr != NULL) {
    cell_set(r, COL_ADDR, addr);
    *has_addr = 1;
  }
}

/* Adds a service's row (its state and totals) and one row per instance.
 * Returns 0 (also out of memory: t->oom says so), or UV_EINVAL with *why
 * when svc is not a service. */
static int service_rows(struct table *t, const cJSON *svc, const char **why) {
  if (!cJSON_IsObject(svc)) {
    *why = "a service is not an object";
    return UV_EINVAL;
  }
  const char *name = str_field(svc, "name");
  const char *state = str_field(svc, "state");
  const cJSON *insts = cJSON_GetObjectItemCaseSensitive(svc, "instances");
  if (name == NULL || !cJSON_IsArray(insts)) {
    *why = "a service lacks \"name\" or \"instances\"";
    return UV_EINVAL;
  }
  struct row *sr = table_add(t);
  if (sr == NULL)
    return 0;
  size_t srow = t->n - 1; /* the array may move as instance rows are added */
  struct totals tot = {0};
  const cJSON *inst;
  cJSON_ArrayForEach(inst, insts) {
    struct row *r;
    if (!cJSON_IsObject(inst)) {
      *why = "an instance is not an object";
      return UV_EINVAL;
    }
    if ((r = table_add(t)) == NULL)
      return 0;
    instance_row(r, name, inst, &tot, &t->has_addr);
  }
  sr = &t->rows[srow];
  long long restarts = tot.restarts; /* the service's own count, if it sends one */
  int_field(svc, "restarts", &restarts);
  cell_set(sr, COL_SERVICE, name);
  cell_set(sr, COL_STATE, state ? state : "?");
  cell_int(sr, COL_RESTARTS, 1, restarts);
  if (tot.any_rss)
    ctl_client_bytes(sr->cell[COL_RSS], CELL_MAX, tot.rss);
  if (tot.any_cpu)
    cpu_cell(sr, tot.cpu);
  cell_int(sr, COL_INFLIGHT, 1, tot.inflight);
  cell_int(sr, COL_REQUESTS, 1, tot.requests);
  return 0;
}

/* The gateway's lines about a service, after the table: requests waiting
 * for an instance, each quarantined method and path with its time left
 * (rounded up to the second), and each TCP route to it. */
static void service_notes(struct ipc_buf *b, const cJSON *svc) {
  const char *name = str_field(svc, "name");
  const cJSON *e;
  long long v;
  char tmp[80];
  if (name == NULL)
    return;
  if (int_field(svc, "queued", &v) && v > 0) {
    add_clean(b, name);
    snprintf(tmp, sizeof(tmp), ": %lld request%s waiting for an instance\n", v, v == 1 ? "" : "s");
    ipc_buf_adds(b, tmp);
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "quarantined")) {
    const char *method = str_field(e, "method"), *path = str_field(e, "path");
    if (method == NULL || path == NULL || !int_field(e, "left_ms", &v))
      continue;
    ctl_client_duration(tmp, sizeof(tmp), v + 999);
    add_clean(b, name);
    ipc_buf_adds(b, ": quarantined ");
    add_clean(b, method);
    ipc_buf_addc(b, ' ');
    add_clean(b, path);
    ipc_buf_adds(b, " (");
    ipc_buf_adds(b, tmp);
    ipc_buf_adds(b, " left)\n");
  }
  const char *cron = str_field(svc, "next_cron_restart");
  struct tm tm = {0};
  const char *end = cron ? strptime(cron, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
  if (end != NULL && *end == '\0') { /* shown in local time, as the expression reads */
    time_t t = timegm(&tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&t, &tm));
    add_clean(b, name);
    ipc_buf_adds(b, ": next cron_restart ");
    ipc_buf_adds(b, when);
    ipc_buf_addc(b, '\n');
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "instances")) {
    const char *text = str_field(e, "status_text"); /* sd_notify's STATUS=, as systemctl shows it */
    if (text == NULL || !int_field(e, "index", &v))
      continue;
    add_clean(b, name);
    snprintf(tmp, sizeof(tmp), "[%lld] status: ", v);
    ipc_buf_adds(b, tmp);
    add_clean(b, text);
    ipc_buf_addc(b, '\n');
  }
  long long total;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(svc, "tcp")) {
    const char *at = str_field(e, "listen");
    if (at == NULL || !int_field(e, "connections", &v) || !int_field(e, "total", &total))
      continue;
    add_clean(b, name);
    ipc_buf_adds(b, ": TCP route ");
    add_clean(b, at);
    snprintf(tmp, sizeof(tmp), " (%lld open, %lld in all)\n", v, total);
    ipc_buf_adds(b, tmp);
  }
}

/* Appends "NAME WORDS a, b\n" for the string array key of svc, if any. */
static void dep_note(struct ipc_buf *b, const cJSON *svc, const char *key, const char *words) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(svc, key), *it;
  const char *name = str_field(svc, "name");
  int n = 0;
  if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0 || name == NULL)
    return;
  add_clean(b, name);
  ipc_buf_adds(b, words);
  cJSON_ArrayForEach(it, a) {
    if (!cJSON_IsString(it))
      continue;
    ipc_buf_adds(b, n++ ? ", " : " ");
    add_clean(b, it->valuestring);
  }
  ipc_buf_addc(b, '\n');
}

/* Under the table: what waiting services wait for, failed dependencies. */
static void dep_notes(struct ipc_buf *b, const cJSON *svcs) {
  const cJSON *svc;
  cJSON_ArrayForEach(svc, svcs) {
    dep_note(b, svc, "waiting_for", " is waiting for");
    dep_note(b, svc, "failed_dependencies", " depends on failed");
  }
}

/* The status table. Returns 0, or UV_EINVAL / UV_ENOMEM with *why. */
static int render_status(struct ipc_buf *b, const cJSON *reply, const char **why) {
  const cJSON *svcs = cJSON_GetObjectItemCaseSensitive(reply, "services");
  if (!cJSON_IsArray(svcs)) {
    *why = "no \"services\" array";
    return UV_EINVAL;
  }
  struct table t = {0};
  const cJSON *svc;
  int rc = 0;
  cJSON_ArrayForEach(svc, svcs) {
    if ((rc = service_rows(&t, svc, why)) != 0)
      break;
  }
  if (rc == 0 && t.oom) {
    *why = "out of memory";
    rc = UV_ENOMEM;
  }
  if (rc == 0 && t.n == 0)
    ipc_buf_adds(b, "no services\n");
  else if (rc == 0)
    table_print(b, &t);
  if (rc == 0) {
    dep_notes(b, svcs);
    cJSON_ArrayForEach(svc, svcs) service_notes(b, svc);
  }
  free(t.rows);
  return rc;
}

/* ---- Other replies ---- */

/* Appends " WORD a, b" for the non-empty string array key of reply and
 * counts it in *parts. Returns 0, or UV_EINVAL if key is not an array of
 * strings. */
static int reload_part(struct ipc_buf *b, const cJSON *reply, const char *key, int *parts) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(reply, key);
  const cJSON *it;
  int n = 0;
  if (a == NULL || cJSON_IsNull(a))
    return 0;
  if (!cJSON_IsArray(a))
    return UV_EINVAL;
  cJSON_ArrayForEach(it, a) {
    if (!cJSON_IsString(it))
      return UV_EINVAL;
    ipc_buf_adds(b, n == 0 ? (*parts ? "; " : " ") : ", ");
    if (n++ == 0) {
      ipc_buf_adds(b, key);
      ipc_buf_addc(b, ' ');
    }
    add_clean(b, it->valuestring);
  }
  *parts += n > 0;
  return 0;
}

/* "reload: added a; changed b". Returns 0, or UV_EINVAL with *why. */
static int render_reload(struct ipc_buf *b, const cJSON *reply, const char **why) {
  int parts = 0;
  ipc_buf_adds(b, "reload:");
  if (reload_part(b, reply, "added", &parts) != 0 ||
      reload_part(b, reply, "removed", &parts) != 0 ||
      reload_part(b, reply, "changed", &parts) != 0) {
    *why = "\"added\", \"removed\" and \"changed\" must be arrays of names";
    return UV_EINVAL;
  }
  ipc_buf_adds(b, parts ? "\n" : " no service changed\n"); /* other settings apply all the same */
  return 0;
}

/* The strings of the array reply[key], one a line: the log lines as they
 * are, env entries with control characters as '?' (clean). Returns 0, or
 * UV_EINVAL with *why (bad: what a non-string entry is called). */
static int render_strings(struct ipc_buf *b, const cJSON *reply, const char *key, int clean,
                          const char *bad, const char **why) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(reply, key), *it;
  if (!cJSON_IsArray(a)) {
    *why = clean ? "no \"env\" array" : "no \"lines\" array";
    return UV_EINVAL;
  }
  cJSON_ArrayForEach(it, a) {
    if (!cJSON_IsString(it)) {
      *why = bad;
      return UV_EINVAL;
    }
    if (clean)
      add_clean(b, it->valuestring);
    else
      ipc_buf_adds(b, it->valuestring);
    ipc_buf_addc(b, '\n');
  }
  return 0;
}

/* "dummy: WHAT", the service named by the reply, else by the request. */
static void confirm(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *reply,
                    const char *what) {
  const char *name = str_field(reply, "service");
  add_clean(b, name ? name : r->service ? r->service : "?");
  ipc_buf_adds(b, ": ");
  ipc_buf_adds(b, what);
}

/* The rooms reply as a table: room, members by kind, history. */
static int render_rooms(struct ipc_buf *b, const cJSON *reply, const char **why) {
  const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(reply, "rooms"), *r;
  char line[512];
  if (!cJSON_IsArray(rooms)) {
    *why = "no \"rooms\"";
    return -1;
  }
  ipc_buf_adds(b,
               "ROOM                             MEMBERS  INSTANCES  WEBSOCKETS  SSE  HISTORY\n");
  cJSON_ArrayForEach(r, rooms) {
    long long m = 0, i = 0, w = 0, s = 0, h = 0;
    const char *name = str_field(r, "room");
    int_field(r, "members", &m);
    int_field(r, "instances", &i);
    int_field(r, "websockets", &w);
    int_field(r, "sse", &s);
    int_field(r, "history", &h);
    struct ipc_buf nb;
    ipc_buf_init(&nb);
    add_clean(&nb, name ? name : "?");
    snprintf(line, sizeof(line), "%-32.*s %7lld  %9lld  %10lld  %3lld  %7lld\n",
             (int)(nb.len < 200 ? nb.len : 200), nb.data ? nb.data : "", m, i, w, s, h);
    ipc_buf_free(&nb);
    ipc_buf_adds(b, line);
  }
  return 0;
}

int ctl_client_render(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *reply,
                      const char **why) {
  long long n = 0;
  const char *version;
  switch (r->cmd) {
  case CTL_STATUS:
    return render_status(b, reply, why);
  case CTL_START:
    confirm(b, r, reply, "starting\n");
    return 0;
  case CTL_STOP:
    confirm(b, r, reply, "stopping\n");
    return 0;
  case CTL_RESTART:
    confirm(b, r, reply, "restarted\n");
    return 0;
  case CTL_SCALE:
    if (!int_field(reply, "instances", &n))
      n = r->n;
    confirm(b, r, reply, "scaling to ");
    ipc_buf_addi(b, n);
    ipc_buf_adds(b, n == 1 ? " instance\n" : " instances\n");
    return 0;
  case CTL_SIGNAL:
    if (!int_field(reply, "instances", &n))
      n = 0;
    confirm(b, r, reply, "");
    add_clean(b, str_field(reply, "signal") ? str_field(reply, "signal") : r->data);
    ipc_buf_adds(b, " sent to ");
    ipc_buf_addi(b, n);
    ipc_buf_adds(b, n == 1 ? " instance\n" : " instances\n");
    return 0;
  case CTL_FLUSH: {
    char size[32];
    if (!int_field(reply, "bytes", &n) || n < 0)
      n = 0;
    ctl_client_bytes(size, sizeof(size), n);
    confirm(b, r, reply, "log emptied, ");
    ipc_buf_adds(b, size);
    ipc_buf_adds(b, " freed\n");
    return 0;
  }
  case CTL_ENV:
    return render_strings(b, reply, "env", 1, "an env entry is not a string", why);
  case CTL_RELOAD:
    return render_reload(b, reply, why);
  case CTL_LOGS:
    return render_strings(b, reply, "lines", 0, "a log line is not a string", why);
  case CTL_EVENTS:
    return 0; /* the events follow */
  case CTL_SHUTDOWN:
    ipc_buf_adds(b, "muster: shutting down\n");
    return 0;
  case CTL_DRAIN:
    ipc_buf_adds(b, "muster: draining (readyz fails; the gateway stops accepting after "
                    "gateway.drain_delay_ms)\n");
    return 0;
  case CTL_UNDRAIN:
    ipc_buf_adds(b, "muster: accepting again\n");
    return 0;
  case CTL_ROOMS:
    return render_rooms(b, reply, why);
  case CTL_PUBLISH:
    if (!int_field(reply, "delivered", &n))
      n = 0;
    add_clean(b, r->topic);
    ipc_buf_adds(b, ": published to ");
    ipc_buf_addi(b, n);
    ipc_buf_adds(b, n == 1 ? " member\n" : " members\n");
    return 0;
  case CTL_VERSION:
    if ((version = str_field(reply, "version")) == NULL) {
      *why = "no \"version\"";
      return UV_EINVAL;
    }
    ipc_buf_adds(b, "muster ");
    add_clean(b, version);
    ipc_buf_adds(b, " (server)\n");
    return 0;
  case CTL_NONE:
    break;
  }
  *why = "unknown command";
  return UV_EINVAL;
}

/* ---- Streams ---- */

/* "03:02:01.123 dummy[1] exit killed by signal 9 (Killed)": the time of
 * day as the server wrote it (UTC), who, the type and the detail. */
static int render_event(struct ipc_buf *b, const cJSON *ev, const char **why) {
  const char *time = str_field(ev, "time");
  const char *type = str_field(ev, "type");
  const char *service = str_field(ev, "service");
  const char *detail = str_field(ev, "detail");
  long long index = -1;
  if (type == NULL) {
    *why = "an event without \"type\"";
    return UV_EINVAL;
  }
  if (time == NULL) {
    ipc_buf_addc(b, '?');
  } else {
    const char *t = strchr(time, 'T');
    t = t ? t + 1 : time;
    size_t n = strcspn(t, "Z");
    char clock[32];
    snprintf(clock, sizeof(clock), "%.*s", (int)(n < sizeof(clock) ? n : sizeof(clock) - 1), t);
    add_clean(b, clock);
  }
  ipc_buf_addc(b, ' ');
  add_clean(b, service ? service : "muster");
  if (service && int_field(ev, "index", &index) && index >= 0) {
    ipc_buf_addc(b, '[');
    ipc_buf_addi(b, index);
    ipc_buf_addc(b, ']');
  }
  ipc_buf_addc(b, ' ');
  add_clean(b, type);
  if (detail && *detail) {
    ipc_buf_addc(b, ' ');
    add_clean(b, detail);
  }
  ipc_buf_addc(b, '\n');
  return 0;
}

int ctl_client_render_stream(struct ipc_buf *b, const struct ctl_client_req *r, const cJSON *msg,
                             const char **why) {
  if (r->cmd == CTL_EVENTS)
    return render_event(b, msg, why);
  const char *line = str_field(msg, "line");
  if (line == NULL) {
    *why = "a followed log object without \"line\"";
    return UV_EINVAL;
  }
  ipc_buf_adds(b, line);
  ipc_buf_addc(b, '\n');
  return 0;
}

void ctl_client_render_error(struct ipc_buf *b, const cJSON *reply) {
  const char *error = str_field(reply, "error");
  const cJSON *problems = cJSON_GetObjectItemCaseSensitive(reply, "problems");
  const cJSON *p;
  ipc_buf_adds(b, "musterctl: ");
  add_clean(b, error && *error ? error : "the command failed (the reply gives no reason)");
  ipc_buf_addc(b, '\n');
  if (!cJSON_IsArray(problems))
    return;
  cJSON_ArrayForEach(p, problems) {
    if (cJSON_IsString(p)) {
      ipc_buf_adds(b, "  ");
      add_clean(b, p->valuestring);
      ipc_buf_addc(b, '\n');
    }
  }
}
