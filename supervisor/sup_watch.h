/* sup_watch — a service's watched files (services[].watch, PM2's watch):
 * one inotify descriptor per service, read by a uv_poll_t. inotify is not
 * recursive, so each directory of a watched tree gets a watch of its own,
 * added as directories appear (at most 4096 per service, 32 levels deep,
 * symbolic links not followed). Names matching watch_ignore, and muster's
 * log directory, are never looked at.
 *
 * A change is a file written and closed, or moved in or out (an editor's
 * save, `git checkout`), or a directory moved in or out; a file removed,
 * or one made without being written (a Unix socket), is not. The first
 * change arms a timer of watch_delay_ms; when it fires the owner's
 * callback runs once with the first path changed (the changes that came
 * meanwhile are in the same restart). */
#ifndef MUSTER_SUP_WATCH_H
#define MUSTER_SUP_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cfg.h"

struct sup_watch;
typedef void (*sup_watch_cb)(void *ctx, const char *what);

/* Starts watching what w names for the service of label; skip: a
 * directory not to look into (logs.dir), or NULL. Problems (a watch the
 * kernel refuses, too many directories) are logged; what could be
 * watched is. Returns the watcher (owned; sup_watch_close), or NULL when
 * none could be set up (logged). */
struct sup_watch *sup_watch_open(uv_loop_t *loop, const struct cfg_watch *w, const char *skip,
                                 const char *label, sup_watch_cb cb, void *ctx);

/* The last change again in watch_delay_ms (its restart could not start). */
void sup_watch_again(struct sup_watch *w);

/* Stops watching; the memory goes once the handles are closed. NULL is
 * fine. */
void sup_watch_close(struct sup_watch *w);

/* One event of a buffer read from an inotify descriptor. */
struct sup_watch_event {
  int wd;
  uint32_t mask;
  const char *name; /* borrowed from the buffer; "" for the directory itself */
  size_t len;       /* of name, without its NUL padding */
};

/* The event at *off of buf[0..len) into *ev, *off moved past it. Returns
 * 1, 0 at the end, or -1 when the buffer is cut or malformed (a length
 * past its end). Pure. */
int sup_watch_next(const char *buf, size_t len, size_t *off, struct sup_watch_event *ev);

/* 1 when name matches one of the patterns (fnmatch(3), no flags). Pure. */
int sup_watch_ignored(char *const *patterns, size_t n, const char *name);

#endif
