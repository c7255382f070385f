/* fuzz_sd — the datagrams programs send to their NOTIFY_SOCKET
 * (sup_sdmsg_parse, sup_sdmsg_status).
 *
 * Checks: nothing crashes or reads past the datagram; a refused datagram
 * is empty or has a NUL byte, and nothing else is refused; the spans
 * (STATUS=, the first bad assignment) lie inside the datagram; READY=1
 * appended on a line of its own is always seen; the kept status text is
 * within its bound, NUL-terminated, without control characters. */
#include <string.h>

#include "fuzz.h"
#include "sup_sdmsg.h"

static int inside(const char *p, size_t n, const uint8_t *data, size_t size) {
  return p >= (const char *)data && p + n <= (const char *)data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sup_sdmsg m;
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
