/* sup_sdmsg — one datagram a program sends to its NOTIFY_SOCKET, as
 * sd_notify(3) writes it: assignments KEY=VALUE, one per line (the last
 * newline optional). Pure: no I/O, unit-tested and fuzzed (fuzz_sd).
 *
 * The keys muster acts on (services[].ready or upstream.ready "notify",
 * docs/configuration.md): READY=1, STATUS=, WATCHDOG=1 and
 * WATCHDOG=trigger, WATCHDOG_USEC=, EXTEND_TIMEOUT_USEC=, STOPPING=1,
 * RELOADING=1, ERRNO=, MAINPID=. Other keys (FDSTORE=, BUSERROR=, ...)
 * are ignored, as systemd ignores keys it does not know; an assignment
 * whose value is not one the key takes is counted in `bad` and ignored,
 * the rest of the datagram still counts. */
#ifndef MUSTER_SUP_SDMSG_H
#define MUSTER_SUP_SDMSG_H

#include <stddef.h>
#include <stdint.h>

#define SUP_SDMSG_STATUS_MAX 256 /* bytes of STATUS= kept (sup_sdmsg_status) */

struct sup_sdmsg {
  unsigned ready : 1;     /* READY=1 */
  unsigned stopping : 1;  /* STOPPING=1 */
  unsigned reloading : 1; /* RELOADING=1 */
  unsigned watchdog : 1;  /* WATCHDOG=1: alive */
  unsigned trigger : 1;   /* WATCHDOG=trigger: "treat me as hung" */
  unsigned mainpid : 1;   /* MAINPID= was given (muster does not follow it) */
  const char *status;     /* STATUS='s value, borrowed from the datagram, or NULL */
  size_t status_len;
  int64_t extend_usec;   /* EXTEND_TIMEOUT_USEC=, or -1 */
  int64_t watchdog_usec; /* WATCHDOG_USEC=, or -1 */
  int err;               /* ERRNO=, or -1 */
  unsigned bad;          /* assignments ignored as malformed */
  const char *first_bad; /* the first of them (borrowed, up to its newline) */
  size_t first_bad_len;
};

/* Parses data[0..len) into *m. Returns 0, or -1 with why filled when the
 * datagram is refused whole: it is empty, or has a NUL byte (systemd drops
 * such a message too). */
int sup_sdmsg_parse(struct sup_sdmsg *m, const char *data, size_t len, char *why, size_t cap);

/* STATUS='s text as muster keeps it, into out (cap >= 4): at most
 * SUP_SDMSG_STATUS_MAX bytes and cap - 1, cut at a UTF-8 character's
 * start, control characters turned into spaces; NUL-terminated. Returns
 * its length. */
size_t sup_sdmsg_status(const char *s, size_t n, char *out, size_t cap);

#endif
