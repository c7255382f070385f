/* sup_proc — /proc, signals, environments. See sup_proc.h. */
#include "sup_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t sup_proc_rss(pid_t pid) {
  char path[64], buf[128];
  snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  unsigned long long size, resident;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
    return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

int sup_proc_kill_group(pid_t pid, int sig) {
  if (pid <= 0)
    return -EINVAL;
  if (kill(-pid, sig) == 0 || errno == ESRCH)
    return 0;
  return -errno;
}

/* Length of the NAME part of "NAME=value". */
static size_t name_len(const char *kv) {
  const char *eq = strchr(kv, '=');
  return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **sup_proc_env_build(char *const *base, char *const *set, size_t nset) {
  size_t nbase = 0;
  while (base && base[nbase])
    nbase++;
  char **env = calloc(nbase + nset + 1, sizeof(*env));
  if (env == NULL)
    return NULL;
  size_t n = 0;
  for (size_t i = 0; i < nbase; i++) {
    size_t k = name_len(base[i]);
    int overridden = 0;
    for (size_t j = 0; j < nset && !overridden; j++)
      overridden = name_len(set[j]) == k && strncmp(set[j], base[i], k) == 0;
    if (!overridden && (env[n++] = strdup(base[i])) == NULL)
      goto out_free;
  }
  for (size_t j = 0; j < nset; j++) {
    /* A later entry of `set` with the same name wins. */
    int later = 0;
    for (size_t k = j + 1; k < nset && !later; k++)
      later = name_len(set[k]) == name_len(set[j]) &&
              strncmp(set[k], set[j], name_len(set[j])) == 0;
    if (!later && (env[n++] = strdup(set[j])) == NULL)
      goto out_free;
  }
  return env;
out_free:
  sup_proc_env_free(env);
  return NULL;
}

void sup_proc_env_free(char **env) {
  for (size_t i = 0; env && env[i]; i++)
    free(env[i]);
  free(env);
}

uint64_t sup_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
