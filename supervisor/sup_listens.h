/* sup_listens — the TCP ports a process and its children listen on, from /proc.
 *
 * For the readiness probe's failure message: the usual reason an upstream
 * program's port never opens is a program that listens on a port of its
 * own choosing instead of $PORT (a hard-coded 3000, a framework's
 * default). When the probe gives up, muster looks at which ports the
 * instance's processes listen on and names them, so the log says "it
 * listens on port 3000" instead of leaving the user to guess. Linux only,
 * best effort: what cannot be read is left out. */
#ifndef MUSTER_SUP_LISTENS_H
#define MUSTER_SUP_LISTENS_H

#include <stddef.h>
#include <sys/types.h>

/* Parses one line of /proc/net/tcp or /proc/net/tcp6 (NUL-terminated).
 * Returns 1 and sets *port and *inode when it is a socket in state LISTEN,
 * 0 for any other line (the header, other states, malformed text). Pure. */
int sup_listens_parse_line(const char *line, int *port, unsigned long *inode);

/* The process ids of the text of /proc/PID/task/TID/children (len bytes,
 * not NUL-terminated: "12 34 "), at most max of them. Returns how many
 * were written; what is not a pid is skipped. Pure. */
size_t sup_listens_parse_pids(const char *text, size_t len, pid_t *pids, size_t max);

/* The TCP ports (IPv4 and IPv6) on which the process pid (an instance's
 * group leader) and its descendants three levels down listen, each once, at
 * most max of them, ascending. Returns how many were written (0 when
 * none or nothing could be read). */
size_t sup_listens_of(pid_t pid, int *ports, size_t max);

#endif
