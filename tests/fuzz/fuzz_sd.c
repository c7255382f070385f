/* fuzz_sd — the datagrams programs send to their NOTIFY_SOCKET
 * (sup_sdmsg_parse, sup_sdmsg_status).
 *
 * Checks: nothing crashes or reads past the datagram; a refused datagram
 * is empty or has a NUL byte, and nothing else is refused; the spans
 * (STATUS=, the first bad assignment) lie inside the datagram; READY=1
 * appended on a line of its own is always seen; the kept status text is
 * within its bound, NUL-terminated, without control characters.
 *
 * The same bytes, cut at their first newline, are also $LISTEN_PID and
 * $LISTEN_FDS of socket activation (util_listenfds_count): the count is
 * -1..UTIL_LISTENFDS_MAX, and a count above 0 means the pid was the one
 * asked about and the count's text is its digits. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "sup_sdmsg.h"
#include "util_listenfds.h"

static int inside(const char *p, size_t n, const uint8_t *data, size_t size) {
  return p >= (const char *)data && p + n <= (const char *)data + size;
}

static void listen_env(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1), why[128];
  FUZZ_CHECK(s != NULL, "out of memory");
  memcpy(s, data, size);
  s[size] = '\0';
  char *nl = strchr(s, '\n'), *fds = nl ? nl + 1 : NULL;
  if (nl)
    *nl = '\0';
  int n = util_listenfds_count(s, fds, 4242, why, sizeof(why));
  FUZZ_CHECK(n >= -1 && n <= UTIL_LISTENFDS_MAX, "count %d", n);
  if (n > 0) {
    FUZZ_CHECK(strspn(s, "0123456789") == strlen(s) && strtol(s, NULL, 10) == 4242, "pid %s", s);
    FUZZ_CHECK(strspn(fds, "0123456789") == strlen(fds) && strtol(fds, NULL, 10) == n, "%s -> %d",
               fds, n);
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sup_sdmsg m;
  listen_env(data, size);
  char why[96], out[SUP_SDMSG_STATUS_MAX + 1];
  int rc = sup_sdmsg_parse(&m, (const char *)data, size, why, sizeof(why));
  int nul = memchr(data, '\0', size) != NULL;
  FUZZ_CHECK(rc == ((size == 0 || nul) ? -1 : 0), "rc %d for %zu bytes (nul %d)", rc, size, nul);
  if (rc != 0)
    return 0;
  if (m.status != NULL) {
    FUZZ_CHECK(inside(m.status, m.status_len, data, size), "status span");
    size_t n = sup_sdmsg_status(m.status, m.status_len, out, sizeof(out));
    FUZZ_CHECK(n <= SUP_SDMSG_STATUS_MAX && out[n] == '\0' && strlen(out) == n, "status %zu", n);
    for (size_t i = 0; i < n; i++)
      FUZZ_CHECK((unsigned char)out[i] >= 0x20 && out[i] != 0x7f, "control at %zu", i);
  }
  if (m.bad > 0)
    FUZZ_CHECK(inside(m.first_bad, m.first_bad_len, data, size), "bad span");
  FUZZ_CHECK(m.err >= -1 && m.err <= 4095, "errno %d", m.err);
  char *again = malloc(size + 9);
  FUZZ_CHECK(again != NULL, "out of memory");
  memcpy(again, data, size);
  memcpy(again + size, "\nREADY=1", 8);
  FUZZ_CHECK(sup_sdmsg_parse(&m, again, size + 8, why, sizeof(why)) == 0 && m.ready,
             "READY=1 on its own line not seen");
  free(again);
  return 0;
}
