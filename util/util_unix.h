/* util_unix — the place of a Unix socket a muster process will listen on
 * (the control socket) or tell a program to listen on (an upstream's
 * MUSTER_SOCKET): its directory made, a stale socket file removed. */
#ifndef MUSTER_UTIL_UNIX_H
#define MUSTER_UTIL_UNIX_H

#include <sys/types.h>

/* Makes the directory of path (one level, mode dir_mode) and removes a
 * socket file left there by a process that was killed. Returns 0, or
 * UV_EADDRINUSE when something accepts connections on it. */
int util_unix_prepare(const char *path, mode_t dir_mode);

#endif
