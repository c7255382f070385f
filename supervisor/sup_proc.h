/* sup_proc — process facts and acts that are plain system calls:
 * resident memory and CPU time from /proc, signals to a process group, the
 * environment of a child. */
#ifndef MUSTER_SUP_PROC_H
#define MUSTER_SUP_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resident set size of pid in bytes (from /proc/PID/statm), or 0 when it
 * cannot be read (the process is gone). */
uint64_t sup_proc_rss(pid_t pid);

/* CPU use of one process, from readings of its /proc/PID/stat: the
 * percentage is over the interval between the last two readings that
 * count (see sup_proc_cpu_update), 100 for one core kept busy. */
struct sup_cpu {
  pid_t pid;      /* the process the last reading was of; 0 = none */
  uint64_t ticks; /* its utime + stime then, in clock ticks */
  uint64_t at_ms; /* when (monotonic ms) */
  double percent; /* over the interval before that reading; 0 at first */
};

/* Reads utime + stime (clock ticks) from the text of /proc/PID/stat (len
 * bytes, not NUL-terminated). The command name may hold spaces and
 * parentheses: fields are counted from its last ')'. Returns 0, or
 * UV_EINVAL when the text is not such a line. */
int sup_proc_stat_cpu(const char *text, size_t len, uint64_t *ticks);

/* The same, and the resident set size in pages (field 24) into *rss_pages:
 * one file gives both figures. Returns 0 or UV_EINVAL. */
int sup_proc_stat_parse(const char *text, size_t len, uint64_t *ticks, uint64_t *rss_pages);

/* Reads /proc/PID/stat once: utime + stime in clock ticks and the RSS in
 * bytes. Returns 0, or a negative errno (the process is gone). */
int sup_proc_stat_read(pid_t pid, uint64_t *ticks, uint64_t *rss);

/* Takes the reading (ticks at now_ms) of pid into c. The first reading of
 * a pid is the baseline (0 %); a reading at least min_ms after the
 * baseline gives the percentage over that interval and becomes the new
 * baseline; a reading sooner changes nothing (so that two readers asking
 * a moment apart do not shrink each other's interval to nothing). */
void sup_proc_cpu_update(struct sup_cpu *c, pid_t pid, uint64_t ticks, uint64_t now_ms,
                         uint64_t min_ms);

/* The CPU percentage of dticks clock ticks (hz per second) over dms
 * milliseconds; 0 when dms is 0. */
double sup_proc_cpu_percent(uint64_t dticks, long hz, uint64_t dms);

/* Reads pid's CPU time at now_ms into c (sup_proc_cpu_update with no
 * minimum interval). Returns 0, or a negative errno when /proc/PID/stat
 * cannot be read (then c is cleared). */
int sup_proc_cpu_sample(struct sup_cpu *c, pid_t pid, uint64_t now_ms);

/* Sends sig to the process group led by pid (the child and everything it
 * forked that stayed in the group). Returns 0 or a negative errno; ESRCH
 * (nothing left) is success. */
int sup_proc_kill_group(pid_t pid, int sig);

/* Whether the variable NAME=value (or NAME) is one of those meant for
 * muster alone that no child inherits: NOTIFY_SOCKET, LISTEN_* (socket
 * activation) and WATCHDOG_* (systemd's watchdog). */
int sup_proc_env_private(const char *kv);

/* Builds a child's environment: muster's own less the private variables
 * (sup_proc_env_private), then `set` (NAME=value strings, later ones win).
 * Returns a NULL-terminated array (one malloc block plus copies; free with
 * sup_proc_env_free) or NULL. */
char **sup_proc_env_build(char *const *base, char *const *set, size_t nset);
void sup_proc_env_free(char **env);

/* Milliseconds of the monotonic clock. */
uint64_t sup_now_ms(void);

#endif
