/* fuzz_proc — the /proc lines sup_listens reads (sup_listens_parse_line,
 * sup_listens_parse_pids): kernel text, but a parser all the same.
 *
 * Checks: nothing crashes or reads past the text; a line taken as LISTEN
 * has a port in 1..65535 and an inode above 0, and the same figures
 * written back in the kernel's layout parse to the same; the pids of a
 * children line are above 0, at most as many as asked.
 *
 * The same bytes are also a buffer read from an inotify descriptor
 * (sup_watch_next, services[].watch): every event lies inside it, the
 * walk ends (at the end, or at a cut), and a name has no NUL within its
 * length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sup_listens.h"
#include "sup_watch.h"

static void inotify_buffer(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  FUZZ_CHECK(buf != NULL, "out of memory");
  memcpy(buf, data, size);
  size_t off = 0, steps = 0;
  struct sup_watch_event ev;
  int rc;
  while ((rc = sup_watch_next(buf, size, &off, &ev)) == 1) {
    FUZZ_CHECK(off <= size, "offset %zu past %zu", off, size);
    FUZZ_CHECK(ev.len == 0 || (ev.name >= buf && ev.name + ev.len <= buf + size), "name span");
    FUZZ_CHECK(memchr(ev.name, '\0', ev.len) == NULL, "NUL inside a name");
    FUZZ_CHECK(++steps <= size, "no progress");
  }
  FUZZ_CHECK(rc == 0 || rc == -1, "rc %d", rc);
  FUZZ_CHECK(rc == -1 || off == size, "ended at %zu of %zu", off, size);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  inotify_buffer(data, size);
  char *line = malloc(size + 1);
  FUZZ_CHECK(line != NULL, "out of memory");
  memcpy(line, data, size);
  line[size] = '\0';
  int port = 0;
  unsigned long inode = 0;
  if (sup_listens_parse_line(line, &port, &inode)) {
    FUZZ_CHECK(port >= 1 && port <= 65535, "port %d", port);
    FUZZ_CHECK(inode > 0, "inode 0");
    char again[256];
    int port2 = 0;
    unsigned long inode2 = 0;
    snprintf(again, sizeof(again),
             "   0: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000  "
             "1000        0 %lu 1 0000000000000000 100 0 0 10 0\n",
             (unsigned)port, inode);
    FUZZ_CHECK(sup_listens_parse_line(again, &port2, &inode2) == 1, "%s", again);
    FUZZ_CHECK(port2 == port && inode2 == inode, "%d %lu vs %d %lu", port, inode, port2, inode2);
  }
  pid_t pids[8];
  size_t n = sup_listens_parse_pids((const char *)data, size, pids, 8);
  FUZZ_CHECK(n <= 8, "%zu pids", n);
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK(pids[i] > 0, "pid %d", (int)pids[i]);
  free(line);
  return 0;
}
