/* util_signal — signal names. See util_signal.h. */
#include "util_signal.h"

#include <signal.h>
#include <string.h>

static const struct {
  const char *name; /* without "SIG" */
  int sig;
} signals[] = {{"TERM", SIGTERM},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"HUP", SIGHUP},
               {"USR1", SIGUSR1},   {"USR2", SIGUSR2}, {"ABRT", SIGABRT}, {"ALRM", SIGALRM},
               {"WINCH", SIGWINCH}, {"PWR", SIGPWR},   {"KILL", SIGKILL}};

int util_signal_parse(const char *name) {
  const char *bare = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
  for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
    if (strcmp(signals[i].name, bare) == 0)
      return signals[i].sig;
  return 0;
}
