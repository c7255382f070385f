/* sup_evhook — event hooks: queue, one run at a time, limits, shutdown.
 * See sup_evhook.h. */
#include "sup_evhook.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <uv.h>

#include "sup_capture.h"
#include "sup_events.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_proc.h"

struct sup_evhook;

/* One run of a hook's command. */
struct hook_run {
  struct sup_evhooks *set;   /* counts the runs still open */
  struct sup_evhook *hook;   /* NULL once the process exited (or the hook went) */
  LIST_ENTRY(hook_run) link; /* the set's runs */
  uv_process_t proc;         /* the child */
  uv_pipe_t in;              /* its stdin: the event, then EOF */
  uv_write_t wreq;
  uv_timer_t timer;            /* the 10 s limit, or the grace after SIGTERM */
  struct sup_capture out, err; /* its output, into muster's log */
  char *line;                  /* the event and "\n"; owned */
  pid_t pid;                   /* 0 when the spawn failed */
  int open;                    /* handles not yet closed */
  unsigned exited : 1;         /* the exit callback ran */
  char label[32];              /* "hook[0]" */
};

struct sup_evhook {
  int index;                     /* hooks.on_event[index] */
  char **events;                 /* owned copies, NULL-terminated */
  char **command;                /* owned copies, NULL-terminated */
  char *queue[SUP_EVHOOK_QUEUE]; /* event lines waiting (owned), a ring */
  size_t head, n;                /* the ring's first and count */
  struct hook_run *run;          /* the run under way, or NULL */
  uint64_t runs, failures, killed, dropped;
  uint64_t streak; /* drops since the queue was last not full */
};

struct sup_evhooks {
  struct sup_host *host;
  struct sup_evhook **v; /* owned, in config order */
  size_t n;
  LIST_HEAD(, hook_run) runs; /* every run not yet freed */
  size_t open_runs;
  unsigned stopping : 1;
};

static void pump(struct sup_evhooks *s, struct sup_evhook *hk);

/* ---- Copies of the config ---- */

/* A NULL-terminated copy of argv (n strings). NULL on out of memory. */
static char **copy_argv(char *const *argv, size_t n) {
  char **c = calloc(n + 1, sizeof(*c));
  for (size_t i = 0; c != NULL && i < n; i++) {
    if ((c[i] = strdup(argv[i])) == NULL) {
      for (size_t k = 0; k < i; k++)
        free(c[k]);
      free(c);
      return NULL;
    }
  }
  return c;
}

/* Frees a NULL-terminated copy (NULL is fine). */
static void free_argv(char **argv) {
  for (size_t i = 0; argv && argv[i]; i++)
    free(argv[i]);
  free(argv);
}

/* Drops the queued events of hk, counting them; returns how many. */
static size_t drop_queue(struct sup_evhook *hk) {
  size_t n = hk->n;
  while (hk->n > 0) {
    free(hk->queue[hk->head]);
    hk->head = (hk->head + 1) % SUP_EVHOOK_QUEUE;
    hk->n--;
  }
  hk->dropped += n;
  return n;
}

/* Frees hk and its queue; a run under way goes on without it. */
static void hook_free(struct sup_evhook *hk) {
  drop_queue(hk);
  if (hk->run != NULL)
    hk->run->hook = NULL; /* it finishes on its own */
  free_argv(hk->events);
  free_argv(hk->command);
  free(hk);
}

/* ---- A run ---- */

/* A handle of r is closed: r is freed with its last, and the host told. */
static void run_closed(struct hook_run *r) {
  if (--r->open > 0)
    return;
  struct sup_evhooks *s = r->set;
  LIST_REMOVE(r, link);
  s->open_runs--;
  free(r->line);
  free(r);
  sup_host_check_done(s->host);
}

/* The close callback of the process, stdin and timer handles. */
static void on_handle_closed(uv_handle_t *h) {
  run_closed(h->data);
}

/* The close callback of the output captures. */
static void on_capture_closed(struct sup_capture *c) {
  run_closed(c->data);
}

/* The hook closed its stdout or stderr. */
static void on_capture_eof(struct sup_capture *c) {
  sup_capture_close(c, on_capture_closed);
}

/* A line the hook wrote: into muster's log. */
static void on_output(void *ctx, const char *label, const char *stream, const char *line,
                      size_t len) {
  sup_log(SUP_INFO, "%s %s: %.*s", label, stream, (int)len, line);
}

/* The event is written (or the hook did not read it): EOF on stdin. */
static void on_written(uv_write_t *w, int status) {
  struct hook_run *r = w->data;
  if (!uv_is_closing((uv_handle_t *)&r->in))
    uv_close((uv_handle_t *)&r->in, on_handle_closed); /* EOF for the hook */
}

/* 10 s passed (or the grace after SIGTERM at shutdown): SIGKILL. */
static void on_timer(uv_timer_t *t) {
  struct hook_run *r = t->data;
  if (r->exited)
    return;
  if (r->hook != NULL && !r->set->stopping) {
    r->hook->killed++;
    sup_log(SUP_WARN, "%s: still running after %d s; killing it", r->label,
            SUP_EVHOOK_TIMEOUT_MS / 1000);
  }
  sup_proc_kill_group(r->pid, SIGKILL);
}

/* The hook's process ended: counts it, and the next event may run. */
static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct hook_run *r = p->data;
  struct sup_evhook *hk = r->hook;
  r->exited = 1;
  sup_proc_kill_group(r->pid, SIGKILL); /* whatever it forked and left */
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->proc, on_handle_closed);
  uv_close((uv_handle_t *)&r->timer, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&r->in))
    uv_close((uv_handle_t *)&r->in, on_handle_closed);
  r->hook = NULL;
  if (sig)
    sup_log(SUP_WARN, "%s: killed by signal %d (%s)", r->label, sig, strsignal(sig));
  else if (status != 0)
    sup_log(SUP_WARN, "%s: exited with code %d", r->label, (int)status);
  if (hk == NULL)
    return;
  hk->run = NULL;
  hk->runs++;
  hk->failures += status != 0 || sig != 0;
  pump(r->set, hk);
}

/* Prepares the run's handles and captures: 5 to close, whatever happens
 * next. Returns 0, or -1 (out of memory: r freed). */
static int run_init(struct sup_evhooks *s, struct hook_run *r) {
  uv_loop_t *loop = sup_host_loop(s->host);
  if (sup_capture_init(&r->out, loop, NULL, r->label, "out") < 0) {
    free(r);
    return -1;
  }
  if (sup_capture_init(&r->err, loop, NULL, r->label, "err") < 0) {
    free(r->out.mem);
    free(r);
    return -1;
  }
  r->out.data = r->err.data = r;
  r->out.on_eof = r->err.on_eof = on_capture_eof;
  r->out.on_line = r->err.on_line = on_output;
  uv_pipe_init(loop, &r->in, 0);
  uv_timer_init(loop, &r->timer);
  r->proc.data = r->in.data = r->timer.data = r->wreq.data = r;
  r->open = 5; /* proc, in, timer, out, err */
  r->set = s;
  LIST_INSERT_HEAD(&s->runs, r, link);
  s->open_runs++;
  return 0;
}

/* Spawns hk's command for the event line. Returns 0 or a negative libuv
 * error (the run is then closing). */
static int run_spawn(struct sup_evhooks *s, struct sup_evhook *hk, struct hook_run *r) {
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&r->in},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->out.pipe},
      {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&r->err.pipe}};
  char *ev = NULL;
  size_t len = strlen(r->line);
  int rc = asprintf(&ev, "MUSTER_EVENT=%.*s", (int)(len - 1), r->line) < 0 ? UV_ENOMEM : 0;
  char **env = rc == 0 ? sup_proc_env_build(sup_host_environ(s->host), &ev, 1) : NULL;
  uv_process_options_t o = {.exit_cb = on_exit_cb,
                            .file = hk->command[0],
                            .args = hk->command,
                            .env = env,
                            .cwd = sup_host_cfg(s->host)->dir,
                            .flags = UV_PROCESS_DETACHED,
                            .stdio_count = 3,
                            .stdio = stdio};
  int tried = env != NULL; /* uv_spawn initialises the handle, failed or not */
  rc = tried ? uv_spawn(sup_host_loop(s->host), &r->proc, &o) : UV_ENOMEM;
  free(ev);
  sup_proc_env_free(env);
  if (rc < 0) {
    sup_log(SUP_ERROR, "%s: spawn \"%s\" failed: %s", r->label, hk->command[0], uv_err_name(rc));
    if (tried)
      uv_close((uv_handle_t *)&r->proc, on_handle_closed);
    else
      r->open--;
    uv_close((uv_handle_t *)&r->in, on_handle_closed);
    uv_close((uv_handle_t *)&r->timer, on_handle_closed);
    sup_capture_close(&r->out, on_capture_closed);
    sup_capture_close(&r->err, on_capture_closed);
    return rc;
  }
  return 0;
}

/* Runs hk for the next queued event, if it is idle. */
static void pump(struct sup_evhooks *s, struct sup_evhook *hk) {
  while (hk->run == NULL && hk->n > 0 && !s->stopping) {
    struct hook_run *r = calloc(1, sizeof(*r));
    char *line = hk->queue[hk->head];
    hk->head = (hk->head + 1) % SUP_EVHOOK_QUEUE;
    hk->n--;
    if (r == NULL) {
      free(line);
      hk->dropped++;
      return;
    }
    snprintf(r->label, sizeof(r->label), "hook[%d]", hk->index);
    r->line = line;
    if (run_init(s, r) != 0) {
      free(line);
      hk->dropped++;
      return;
    }
    if (run_spawn(s, hk, r) < 0) {
      hk->failures++;
      continue; /* the next event */
    }
    r->pid = r->proc.pid;
    r->hook = hk;
    hk->run = r;
    sup_capture_start(&r->out);
    sup_capture_start(&r->err);
    uv_buf_t b = uv_buf_init(r->line, (unsigned)strlen(r->line));
    if (uv_write(&r->wreq, (uv_stream_t *)&r->in, &b, 1, on_written) < 0)
      uv_close((uv_handle_t *)&r->in, on_handle_closed);
    uv_timer_start(&r->timer, on_timer, SUP_EVHOOK_TIMEOUT_MS, 0);
  }
}

/* ---- Events ---- */

/* 1 when hk runs for events of type. */
static int wants(const struct sup_evhook *hk, const char *type) {
  for (size_t i = 0; hk->events[i] != NULL; i++)
    if (strcmp(hk->events[i], "*") == 0 || strcmp(hk->events[i], type) == 0)
      return 1;
  return 0;
}

/* Queues a copy of line for hk (or drops it when 100 wait). */
static void enqueue(struct sup_evhook *hk, const char *line) {
  if (hk->n == SUP_EVHOOK_QUEUE) {
    hk->dropped++;
    if (hk->streak++ == 0)
      sup_log(SUP_WARN, "hook[%d]: %d events are waiting; dropping events until it catches up",
              hk->index, SUP_EVHOOK_QUEUE);
    return;
  }
  if (hk->streak > 0)
    sup_log(SUP_WARN, "hook[%d]: dropped %llu events while its queue was full", hk->index,
            (unsigned long long)hk->streak);
  hk->streak = 0;
  char *copy = strdup(line);
  if (copy == NULL) {
    hk->dropped++;
    return;
  }
  hk->queue[(hk->head + hk->n++) % SUP_EVHOOK_QUEUE] = copy;
}

/* A host event: queued for each hook that wants it (one JSON text). */
static void on_event(void *ctx, const struct sup_event *ev) {
  struct sup_evhooks *s = ctx;
  char *json = NULL, *line = NULL;
  if (s->stopping)
    return;
  for (size_t i = 0; i < s->n; i++) {
    struct sup_evhook *hk = s->v[i];
    if (!wants(hk, ev->type))
      continue;
    if (line == NULL &&
        ((json = sup_event_json(ev)) == NULL || asprintf(&line, "%s\n", json) < 0)) {
      line = NULL;
      hk->dropped++;
      continue;
    }
    enqueue(hk, line);
    pump(s, hk);
  }
  free(json);
  free(line);
}

/* ---- Life cycle ---- */

void sup_evhooks_configure(struct sup_evhooks *s, const struct cfg *c) {
  size_t old = s->n;
  if (c->nhooks > s->n) {
    struct sup_evhook **v = realloc(s->v, c->nhooks * sizeof(*v));
    if (v == NULL) {
      sup_log(SUP_ERROR, "hooks: out of memory; keeping the hooks as they were");
      return;
    }
    s->v = v;
  }
  for (size_t i = c->nhooks; i < old; i++) /* dropped by the new config */
    hook_free(s->v[i]);
  s->n = c->nhooks < old ? c->nhooks : old;
  for (size_t i = 0; i < c->nhooks; i++) {
    struct sup_evhook *hk = i < s->n ? s->v[i] : calloc(1, sizeof(*hk));
    char **events = copy_argv(c->hooks[i].events, c->hooks[i].nevents);
    char **command = copy_argv(c->hooks[i].command, c->hooks[i].ncommand);
    if (hk == NULL || events == NULL || command == NULL) {
      sup_log(SUP_ERROR, "hooks: out of memory; hooks.on_event[%zu] not changed", i);
      free_argv(events);
      free_argv(command);
      if (i < s->n)
        continue; /* keeps its old definition */
      free(hk);
      return;
    }
    free_argv(hk->events);
    free_argv(hk->command);
    hk->index = (int)i;
    hk->events = events;
    hk->command = command;
    s->v[i] = hk;
    if (i >= s->n)
      s->n = i + 1;
  }
}

struct sup_evhooks *sup_evhooks_new(struct sup_host *h) {
  struct sup_evhooks *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    sup_log(SUP_ERROR, "hooks: out of memory");
    return NULL;
  }
  s->host = h;
  LIST_INIT(&s->runs);
  sup_evhooks_configure(s, sup_host_cfg(h));
  sup_host_add_listener(h, on_event, s);
  return s;
}

void sup_evhooks_stop(struct sup_evhooks *s) {
  if (s == NULL || s->stopping)
    return;
  s->stopping = 1;
  for (size_t i = 0; i < s->n; i++) {
    struct sup_evhook *hk = s->v[i];
    size_t n = drop_queue(hk);
    if (n > 0)
      sup_log(SUP_WARN, "hook[%d]: %zu events not run: muster is shutting down", hk->index, n);
    if (hk->run != NULL && !hk->run->exited) {
      sup_log(SUP_INFO, "hook[%d]: muster is shutting down; SIGTERM to the running hook",
              hk->index);
      sup_proc_kill_group(hk->run->pid, SIGTERM);
      uv_timer_start(&hk->run->timer, on_timer, SUP_EVHOOK_GRACE_MS, 0);
    }
  }
}

int sup_evhooks_idle(struct sup_evhooks *s) {
  struct hook_run *r;
  if (s == NULL)
    return 1;
  LIST_FOREACH(r, &s->runs, link) {
    if (r->exited) {
      sup_capture_close(&r->out, on_capture_closed);
      sup_capture_close(&r->err, on_capture_closed);
    }
  }
  return s->open_runs == 0;
}

void sup_evhooks_free(struct sup_evhooks *s) {
  if (s == NULL)
    return;
  sup_host_remove_listener(s->host, on_event, s);
  for (size_t i = 0; i < s->n; i++)
    hook_free(s->v[i]);
  free(s->v);
  free(s);
}

size_t sup_evhooks_count(const struct sup_evhooks *s) {
  return s ? s->n : 0;
}

void sup_evhooks_info(const struct sup_evhooks *s, size_t i, struct sup_evhook_info *out) {
  const struct sup_evhook *hk = s->v[i];
  *out = (struct sup_evhook_info){.index = hk->index,
                                  .events = hk->events,
                                  .running = hk->run != NULL,
                                  .queued = hk->n,
                                  .runs = hk->runs,
                                  .failures = hk->failures,
                                  .killed = hk->killed,
                                  .dropped = hk->dropped};
}
