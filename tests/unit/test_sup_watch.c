/* Unit tests for sup_watch's pure parts: inotify read buffers (events
 * with and without names, NUL padding, cut buffers) and watch_ignore
 * patterns. */
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "sup_watch.h"
#include "test.h"

/* Appends an event (name padded with NULs to pad bytes) to buf at *n. */
static void put(char *buf, size_t *n, int wd, uint32_t mask, const char *name, uint32_t pad) {
  struct inotify_event h = {.wd = wd, .mask = mask, .cookie = 0, .len = pad};
  memcpy(buf + *n, &h, sizeof(h));
  memset(buf + *n + sizeof(h), 0, pad);
  if (name)
    memcpy(buf + *n + sizeof(h), name, strlen(name));
  *n += sizeof(h) + pad;
}

TEST(events_in_a_buffer) {
  char buf[512];
  size_t n = 0, off = 0;
  struct sup_watch_event ev;
  put(buf, &n, 1, IN_CLOSE_WRITE, "main.js", 16);
  put(buf, &n, 2, IN_IGNORED, NULL, 0);
  put(buf, &n, 1, IN_CREATE | IN_ISDIR, "sixteen-chars-xx", 16); /* no NUL inside */
  CHECK_INT(sup_watch_next(buf, n, &off, &ev), 1);
  CHECK(ev.wd == 1 && ev.mask == IN_CLOSE_WRITE && ev.len == 7 && strcmp(ev.name, "main.js") == 0);
  CHECK_INT(sup_watch_next(buf, n, &off, &ev), 1);
  CHECK(ev.wd == 2 && ev.mask == IN_IGNORED && ev.len == 0 && strcmp(ev.name, "") == 0);
  CHECK_INT(sup_watch_next(buf, n, &off, &ev), 1);
  CHECK(ev.len == 16 && memcmp(ev.name, "sixteen-chars-xx", 16) == 0);
  CHECK_INT(sup_watch_next(buf, n, &off, &ev), 0);
  CHECK(off == n);
  /* a header cut short, a name longer than what is left */
  off = 0;
  CHECK_INT(sup_watch_next(buf, 10, &off, &ev), -1);
  off = 0;
  CHECK_INT(sup_watch_next(buf, sizeof(struct inotify_event) + 8, &off, &ev), -1);
}

TEST(ignore_patterns) {
  char *pats[] = {".*", "*~", "*.log", "node_modules"};
  CHECK(sup_watch_ignored(pats, 4, ".git"));
  CHECK(sup_watch_ignored(pats, 4, ".main.js.swp"));
  CHECK(sup_watch_ignored(pats, 4, "main.js~"));
  CHECK(sup_watch_ignored(pats, 4, "debug.log"));
  CHECK(sup_watch_ignored(pats, 4, "node_modules"));
  CHECK(!sup_watch_ignored(pats, 4, "main.js"));
  CHECK(!sup_watch_ignored(pats, 4, "node_modules2"));
  CHECK(!sup_watch_ignored(pats, 4, "log"));
  CHECK(!sup_watch_ignored(pats, 0, ".git"));
}

int main(void) {
  RUN(events_in_a_buffer);
  RUN(ignore_patterns);
  return test_summary();
}
