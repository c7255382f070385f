/* sup_child — spawning a service's process in a process group of its own
 * inside muster's session, and learning of its exit.
 *
 * uv_spawn() can only give a child a group of its own through
 * UV_PROCESS_DETACHED, which is setsid(): a new session. On a kernel with
 * sched_autogroup (Debian's default) every session is a scheduling group
 * of its own, so each instance then competed for the CPU as a peer of all
 * of muster — the gateway included — and its wake-ups were scheduled
 * group against group: behind wrk -c64 that alone took the p99 of an
 * upstream round trip from 6 ms to 20 ms (bench/RESULTS.md). supervisord
 * does what we do now: setpgid(0, 0), the session kept. The group is what
 * a stop needs (kill(-pid) reaches what the program forked).
 *
 * So the child is started with posix_spawn() (POSIX_SPAWN_SETPGROUP; a
 * clone(CLONE_VFORK) in glibc, cheaper than libuv's fork) and reaped by a
 * SIGCHLD watcher that waits for its own children by pid only, as libuv
 * does for its own (hooks and health commands still use uv_spawn): neither
 * reaps the other's. The child gets the signal dispositions reset and an
 * empty signal mask, as uv_spawn gives. */
#ifndef MUSTER_SUP_CHILD_H
#define MUSTER_SUP_CHILD_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <uv.h>

struct sup_child;
/* The child exited (status: its exit code) or was killed (sig != 0). */
typedef void (*sup_child_exit_cb)(struct sup_child *c, int64_t status, int sig);

struct sup_child {
  pid_t pid;                  /* once spawned */
  sup_child_exit_cb on_exit;  /* called once, after the child is reaped */
  void *data;                 /* the caller's */
  LIST_ENTRY(sup_child) link; /* in its reaper while running */
};

/* The SIGCHLD watcher of one loop and the children it waits for. */
struct sup_reaper {
  uv_signal_t sig;
  LIST_HEAD(, sup_child) kids;
};

/* What to run and with which descriptors. */
struct sup_child_opts {
  const char *file;  /* the program's path (the config resolved argv[0]) */
  char *const *argv; /* NULL-terminated */
  char *const *env;  /* NULL-terminated */
  const char *cwd;   /* NULL: muster's */
  int fds[4];        /* the child's 0..3: -1 for 0 is /dev/null, else none */
  int nfds;          /* 3 or 4 */
};

/* Starts watching SIGCHLD on loop (the handle keeps it alive only while
 * a child runs, as a uv_process_t does).
 * Returns 0 or a negative libuv error. */
int sup_reaper_init(uv_loop_t *loop, struct sup_reaper *r);
/* Stops it; the children not yet reaped are forgotten. */
void sup_reaper_close(struct sup_reaper *r, uv_close_cb cb);

/* Spawns o as c (c->on_exit and c->data set by the caller). Returns 0, or
 * a negative libuv error (UV_ENOENT: no such program) and no child. */
int sup_child_spawn(struct sup_reaper *r, struct sup_child *c, const struct sup_child_opts *o);

#endif
