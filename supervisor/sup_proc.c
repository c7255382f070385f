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
#include <uv.h>

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

int sup_proc_stat_parse(const char *text, size_t len, uint64_t *ticks, uint64_t *rss_pages) {
  const char *end = text + len, *p = NULL;
  for (const char *q = text; q < end; q++)
    if (*q == ')')
      p = q; /* the command name ends at the last ')' */
  if (p == NULL)
    return UV_EINVAL;
  p++;
  /* After ')': state (field 3) ... utime (14) stime (15) ... rss (24). */
  uint64_t v[3] = {0, 0, 0};
  int last = rss_pages ? 24 : 15;
  for (int field = 3; field <= last; field++) {
    while (p < end && *p == ' ')
      p++;
    if (p == end)
      return UV_EINVAL;
    const char *start = p;
    int want = field == 14 || field == 15 || field == 24;
    uint64_t n = 0;
    for (; p < end && *p != ' ' && *p != '\n'; p++) {
      if (want && (*p < '0' || *p > '9'))
        return UV_EINVAL;
      n = n * 10 + (uint64_t)(*p - '0');
    }
    if (p == start)
      return UV_EINVAL;
    if (want)
      v[field == 24 ? 2 : field - 14] = n;
  }
  *ticks = v[0] + v[1];
  if (rss_pages)
    *rss_pages = v[2];
  return 0;
}

int sup_proc_stat_cpu(const char *text, size_t len, uint64_t *ticks) {
  return sup_proc_stat_parse(text, len, ticks, NULL);
}

int sup_proc_stat_read(pid_t pid, uint64_t *ticks, uint64_t *rss) {
  char path[64], buf[1024];
  uint64_t pages;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
  int err = n < 0 ? errno : EINVAL;
  if (fd >= 0)
    close(fd);
  if (n <= 0 || sup_proc_stat_parse(buf, (size_t)n, ticks, &pages) != 0)
    return -err;
  *rss = pages * (uint64_t)sysconf(_SC_PAGESIZE);
  return 0;
}

double sup_proc_cpu_percent(uint64_t dticks, long hz, uint64_t dms) {
  if (dms == 0 || hz <= 0)
    return 0;
  return (double)dticks * 100000.0 / ((double)hz * (double)dms);
}

void sup_proc_cpu_update(struct sup_cpu *c, pid_t pid, uint64_t ticks, uint64_t now_ms,
                         uint64_t min_ms) {
  if (c->pid == pid && (now_ms < c->at_ms + min_ms || (min_ms == 0 && now_ms == c->at_ms)))
    return; /* too soon: keep the figure and its baseline */
  if (c->pid == pid && ticks >= c->ticks)
    c->percent = sup_proc_cpu_percent(ticks - c->ticks, sysconf(_SC_CLK_TCK), now_ms - c->at_ms);
  else if (c->pid != pid)
    c->percent = 0;
  c->pid = pid;
  c->ticks = ticks;
  c->at_ms = now_ms;
}

int sup_proc_cpu_sample(struct sup_cpu *c, pid_t pid, uint64_t now_ms) {
  uint64_t ticks, rss;
  int rc = sup_proc_stat_read(pid, &ticks, &rss);
  if (rc < 0) {
    memset(c, 0, sizeof(*c));
    return rc;
  }
  sup_proc_cpu_update(c, pid, ticks, now_ms, 0);
  return 0;
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

int sup_proc_env_private(const char *kv) {
  size_t k = name_len(kv);
  return (k == 13 && strncmp(kv, "NOTIFY_SOCKET", 13) == 0) || strncmp(kv, "LISTEN_", 7) == 0 ||
         strncmp(kv, "WATCHDOG_", 9) == 0;
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
    int skip = sup_proc_env_private(base[i]); /* or set again below */
    for (size_t j = 0; j < nset && !skip; j++)
      skip = name_len(set[j]) == k && strncmp(set[j], base[i], k) == 0;
    if (!skip && (env[n++] = strdup(base[i])) == NULL)
      goto out_free;
  }
  for (size_t j = 0; j < nset; j++) {
    /* A later entry of `set` with the same name wins. */
    int later = 0;
    for (size_t k = j + 1; k < nset && !later; k++)
      later =
          name_len(set[k]) == name_len(set[j]) && strncmp(set[k], set[j], name_len(set[j])) == 0;
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
