/* sup_child — posix_spawn() into a process group, reaped by pid. See
 * sup_child.h. */
#include "sup_child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Reaping ---- */

/* Waits for each of r's children by pid (never -1: libuv's children and
 * anyone else's are theirs to reap). One pass: on_exit only removes the
 * child it is given (here) and may spawn, which inserts at the head, behind
 * the pass; a child that exits meanwhile raises SIGCHLD again. */
static void on_sigchld(uv_signal_t *h, int signum) {
  struct sup_reaper *r = h->data;
  struct sup_child *c, *next;
  (void)signum;
  for (c = LIST_FIRST(&r->kids); c != NULL; c = next) {
    next = LIST_NEXT(c, link);
    int st;
    pid_t got;
    do
      got = waitpid(c->pid, &st, WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got != c->pid)
      continue;
    LIST_REMOVE(c, link);
    if (LIST_EMPTY(&r->kids))
      uv_unref((uv_handle_t *)&r->sig);
    if (WIFSIGNALED(st))
      c->on_exit(c, 0, WTERMSIG(st));
    else
      c->on_exit(c, WEXITSTATUS(st), 0);
  }
}

int sup_reaper_init(uv_loop_t *loop, struct sup_reaper *r) {
  LIST_INIT(&r->kids);
  int rc = uv_signal_init(loop, &r->sig);
  if (rc < 0)
    return rc;
  r->sig.data = r;
  if ((rc = uv_signal_start(&r->sig, on_sigchld, SIGCHLD)) < 0)
    return rc;
  uv_unref((uv_handle_t *)&r->sig); /* referenced while children run, as uv_spawn's are */
  return 0;
}

void sup_reaper_close(struct sup_reaper *r, uv_close_cb cb) {
  LIST_INIT(&r->kids);
  uv_close((uv_handle_t *)&r->sig, cb);
}

/* ---- Spawning ---- */

/* The child's signal state: every disposition default, nothing blocked,
 * and a process group of its own. */
static int attrs(posix_spawnattr_t *at) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  int rc = posix_spawnattr_init(at);
  if (rc == 0 && ((rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                                         POSIX_SPAWN_SETSIGMASK)) != 0 ||
                  (rc = posix_spawnattr_setpgroup(at, 0)) != 0 ||
                  (rc = posix_spawnattr_setsigdefault(at, &all)) != 0 ||
                  (rc = posix_spawnattr_setsigmask(at, &none)) != 0))
    posix_spawnattr_destroy(at);
  return rc;
}

/* Moves each of o's descriptors that is itself 0..3 above 3 (into
 * moved[], closed by the caller), so that no dup2 onto 0..3 overwrites
 * one still to be duplicated. Returns 0 or an errno. */
static int lift(const struct sup_child_opts *o, int fds[4], int moved[4]) {
  for (int i = 0; i < o->nfds; i++) {
    fds[i] = o->fds[i];
    moved[i] = -1;
    if (fds[i] >= 0 && fds[i] < 4) {
      if ((moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 4)) < 0)
        return errno;
      fds[i] = moved[i];
    }
  }
  return 0;
}

/* stdin (/dev/null when o gives none), then each descriptor to its
 * place; posix_spawn's dup2 clears the close-on-exec flag of the copy. */
static int file_actions(posix_spawn_file_actions_t *fa, const struct sup_child_opts *o,
                        const int fds[4]) {
  int rc = posix_spawn_file_actions_init(fa);
  if (rc != 0)
    return rc;
  if (o->cwd != NULL)
    rc = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
  if (rc == 0 && fds[0] < 0)
    rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
  for (int i = 0; rc == 0 && i < o->nfds; i++)
    if (fds[i] >= 0)
      rc = posix_spawn_file_actions_adddup2(fa, fds[i], i);
  if (rc != 0)
    posix_spawn_file_actions_destroy(fa);
  return rc;
}

int sup_child_spawn(struct sup_reaper *r, struct sup_child *c, const struct sup_child_opts *o) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int fds[4] = {-1, -1, -1, -1}, moved[4] = {-1, -1, -1, -1};
  int rc = lift(o, fds, moved);
  if (rc == 0 && (rc = file_actions(&fa, o, fds)) == 0) {
    if ((rc = attrs(&at)) == 0) {
      rc = posix_spawn(&c->pid, o->file, &fa, &at, o->argv, o->env);
      posix_spawnattr_destroy(&at);
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  for (int i = 0; i < 4; i++)
    if (moved[i] >= 0)
      close(moved[i]);
  if (rc != 0)
    return -rc; /* libuv's errors are negated errnos on Unix */
  LIST_INSERT_HEAD(&r->kids, c, link);
  uv_ref((uv_handle_t *)&r->sig); /* the loop lives until it is reaped */
  return 0;
}
