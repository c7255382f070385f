/* util_signal — the signals muster sends by name: a service's stop_signal
 * and `musterctl signal`. A name is written "SIGHUP" or, as supervisord
 * and systemd also take it, "HUP". */
#ifndef MUSTER_UTIL_SIGNAL_H
#define MUSTER_UTIL_SIGNAL_H

/* The names, for messages. */
#define UTIL_SIGNAL_NAMES                                                                          \
  "SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGABRT, SIGALRM, SIGWINCH, SIGPWR, "       \
  "SIGKILL"

/* The number of the signal called name, or 0 when it is not one of these. */
int util_signal_parse(const char *name);

#endif
