/* sup_notify — READY/RELOADING/STOPPING/STATUS/WATCHDOG to systemd.
 * See sup_notify.h. */
#include "sup_notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "sup_deps.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_service.h"
#include "util_vec.h"

struct sup_notify {
  struct sup_host *host;
  int fd;                  /* SOCK_DGRAM, non-blocking */
  struct sockaddr_un addr; /* $NOTIFY_SOCKET */
  socklen_t addrlen;
  uv_timer_t watchdog; /* WATCHDOG=1 pings; runs only with a watchdog */
  int watchdog_init;   /* the timer handle exists (closed at finish) */
  int ready;           /* READY=1 sent since start or the last reload */
  int stopping;        /* STOPPING=1 sent */
  int send_failed;     /* a send failed: logged once */
  char **tried;        /* "name[i]": instances whose first try ended, owned */
  size_t ntried, captried;
  char status[512]; /* the last STATUS= text sent */
};

/* ---- Pure parts ---- */

int sup_notify_addr(const char *value, void *addr, size_t cap) {
  struct sockaddr_un *sa = addr;
  size_t len = value ? strlen(value) : 0;
  if (cap < sizeof(*sa) || len < 2 || (value[0] != '/' && value[0] != '@'))
    return UV_EINVAL;
  if (len > sizeof(sa->sun_path) - (value[0] == '/')) /* a path needs its NUL */
    return UV_ENAMETOOLONG;
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, value, len);
  if (value[0] == '@')
    sa->sun_path[0] = '\0'; /* abstract: the length says where it ends */
  return (int)(offsetof(struct sockaddr_un, sun_path) + len + (value[0] == '/'));
}

/* Reads a decimal number without sign or junk. Returns 0, UV_EINVAL (not
 * a number) or UV_ERANGE (too large). */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (s == NULL || *s == '\0')
    return UV_EINVAL;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return UV_EINVAL;
    if (v > (UINT64_MAX - 9) / 10)
      return UV_ERANGE;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

uint64_t sup_notify_watchdog_ms(const char *usec, const char *pid, long self) {
  uint64_t us, p;
  if (parse_u64(usec, &us) != 0 || us == 0)
    return 0;
  if (pid != NULL && *pid != '\0' && (parse_u64(pid, &p) != 0 || p != (uint64_t)self))
    return 0;
  uint64_t ms = us / 2000;
  return ms > 0 ? ms : 1;
}

/* ---- Sending ---- */

/* Sends one notification (NEWLINE-separated assignments). A failure is
 * logged once; muster goes on without systemd hearing it. */
static void send_msg(struct sup_notify *n, const char *text) {
  ssize_t w;
  do
    w = sendto(n->fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&n->addr, n->addrlen);
  while (w < 0 && errno == EINTR);
  if (w < 0 && !n->send_failed) {
    n->send_failed = 1;
    sup_log(SUP_WARN, "notify: sending to $NOTIFY_SOCKET failed: %s (reported once)",
            strerror(errno));
  }
}

/* Sends "STATUS=text" (after the assignments in head, which may be
 * empty) when the text changed or head is not empty. */
static void send_status(struct sup_notify *n, const char *head, const char *text) {
  char msg[700];
  if (*head == '\0' && strcmp(text, n->status) == 0)
    return;
  snprintf(n->status, sizeof(n->status), "%s", text);
  snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, text);
  send_msg(n, msg);
}

/* ---- Readiness ---- */

static int tried(const struct sup_notify *n, const char *label) {
  for (size_t i = 0; i < n->ntried; i++)
    if (strcmp(n->tried[i], label) == 0)
      return 1;
  return 0;
}

static void tried_clear(struct sup_notify *n) {
  for (size_t i = 0; i < n->ntried; i++)
    free(n->tried[i]);
  free(n->tried);
  n->tried = NULL;
  n->ntried = n->captried = 0;
}

/* Notes that the instance "name[index]" ended a try without being ready. */
static void tried_add(struct sup_notify *n, const char *service, int index) {
  char label[96];
  snprintf(label, sizeof(label), "%s[%d]", service, index);
  if (tried(n, label))
    return;
  if (util_vec_reserve(&n->tried, &n->captried, n->ntried + 1) != 0)
    return;
  if ((n->tried[n->ntried] = strdup(label)) != NULL)
    n->ntried++;
}

/* Whether svc needs no more waiting: it has a ready instance, is failed,
 * stopped or removed, or each instance's first try ended unready; or it
 * waits for dependencies that are all settled that way (depends_on). */
static int settled(const struct sup_notify *n, const struct sup_service *svc) {
  int all_tried = 1;
  if (svc->failed || svc->stopped || svc->removed)
    return 1;
  if (svc->waiting) {
    const char *names[64];
    size_t k = sup_deps_waiting_for(n->host, svc, names, 64);
    for (size_t i = 0; i < k; i++) {
      const struct sup_service *d = sup_deps_find(n->host, names[i]);
      if (d != NULL && !settled(n, d))
        return 0;
    }
    return 1;
  }
  for (size_t i = 0; i < svc->ninst; i++) {
    if (svc->inst[i]->state == SUP_I_READY)
      return 1;
    all_tried = all_tried && tried(n, svc->inst[i]->label);
  }
  return all_tried;
}

/* Appends name to the ", "-joined list in buf (cap bytes), cut with "...". */
static void list_add(char *buf, size_t cap, const char *name) {
  size_t len = strlen(buf);
  if (len + strlen(name) + 6 < cap)
    snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
  else if (len + 5 < cap && strstr(buf, "...") == NULL)
    snprintf(buf + len, cap - len, ", ...");
}

/* Looks at every service; sends READY=1 when all are settled for the first
 * time since start or reload, and STATUS= when what it says changed. */
static void update(struct sup_notify *n) {
  struct sup_host *h = n->host;
  char waiting[256] = "", failed[256] = "", text[600];
  size_t ready = 0, total = 0, live = 0;
  for (size_t s = 0; s < h->nsvcs; s++) {
    const struct sup_service *svc = h->svcs[s];
    if (svc->removed)
      continue;
    live++;
    for (size_t i = 0; i < svc->ninst; i++) {
      ready += svc->inst[i]->state == SUP_I_READY;
      total += !svc->inst[i]->removing;
    }
    if (svc->failed)
      list_add(failed, sizeof(failed), svc->cfg->name);
    else if (!n->ready && !settled(n, svc))
      list_add(waiting, sizeof(waiting), svc->cfg->name);
  }
  if (!n->ready && waiting[0] != '\0') {
    snprintf(text, sizeof(text), "starting: waiting for %s (%zu/%zu instances ready)", waiting,
             ready, total);
    send_status(n, "", text);
    return;
  }
  snprintf(text, sizeof(text), "running %zu services: %zu/%zu instances ready%s%s", live, ready,
           total, failed[0] ? "; failed: " : "", failed);
  send_status(n, n->ready ? "" : "READY=1\n", text);
  n->ready = 1;
}

/* ---- Host events and hooks ---- */

static void on_event(void *ctx, const struct sup_event *ev) {
  struct sup_notify *n = ctx;
  char head[96];
  struct timespec ts;
  if (n->stopping)
    return;
  if (strcmp(ev->type, "reload") == 0) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    send_status(n, head, "reloading: applying the new config");
    n->ready = 0;
    tried_clear(n);
  } else if (ev->service && ev->index >= 0 &&
             (strcmp(ev->type, "exit") == 0 || strcmp(ev->type, "backoff") == 0)) {
    tried_add(n, ev->service, ev->index);
  }
  update(n);
}

static void hook_stopping(void *ctx) {
  struct sup_notify *n = ctx;
  char text[128];
  n->stopping = 1;
  snprintf(text, sizeof(text), "stopping: draining requests and stopping %zu services",
           n->host->nsvcs);
  send_status(n, "STOPPING=1\n", text);
}

static void on_watchdog(uv_timer_t *t) {
  send_msg(t->data, "WATCHDOG=1");
}

/* Every service is stopped: the timer must not keep the loop alive. */
static void hook_finished(void *ctx) {
  struct sup_notify *n = ctx;
  sup_host_remove_listener(n->host, on_event, n);
  if (n->watchdog_init)
    uv_close((uv_handle_t *)&n->watchdog, NULL);
}

/* ---- Life cycle ---- */

struct sup_notify *sup_notify_start(struct sup_host *h) {
  const char *where = getenv("NOTIFY_SOCKET");
  if (where == NULL || *where == '\0')
    return NULL;
  struct sup_notify *n = calloc(1, sizeof(*n));
  if (n == NULL)
    return NULL;
  n->host = h;
  int len = sup_notify_addr(where, &n->addr, sizeof(n->addr));
  if (len < 0) {
    sup_log(SUP_WARN, "notify: $NOTIFY_SOCKET \"%s\" is not usable: %s; not notifying", where,
            uv_strerror(len));
    free(n);
    return NULL;
  }
  n->addrlen = (socklen_t)len;
  n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (n->fd < 0) {
    sup_log(SUP_WARN, "notify: socket() failed: %s; not notifying", strerror(errno));
    free(n);
    return NULL;
  }
  uint64_t ms =
      sup_notify_watchdog_ms(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), (long)getpid());
  if (ms > 0) {
    uv_timer_init(sup_host_loop(h), &n->watchdog);
    n->watchdog.data = n;
    n->watchdog_init = 1;
    uv_timer_start(&n->watchdog, on_watchdog, 0, ms);
    sup_log(SUP_INFO, "notify: watchdog ping every %llu ms", (unsigned long long)ms);
  }
  struct sup_host_hooks hooks = {.ctx = n, .stopping = hook_stopping, .finished = hook_finished};
  sup_host_add_hooks(h, &hooks);
  sup_host_add_listener(h, on_event, n);
  update(n); /* no service at all: ready now */
  return n;
}

void sup_notify_free(struct sup_notify *n) {
  if (n == NULL)
    return;
  close(n->fd);
  tried_clear(n);
  free(n);
}
