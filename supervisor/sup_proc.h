/* sup_proc — process facts and acts that are plain system calls:
 * resident memory from /proc, signals to a process group, the environment
 * of a child. */
#ifndef MUSTER_SUP_PROC_H
#define MUSTER_SUP_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resident set size of pid in bytes (from /proc/PID/statm), or 0 when it
 * cannot be read (the process is gone). */
uint64_t sup_proc_rss(pid_t pid);

/* Sends sig to the process group led by pid (the child and everything it
 * forked that stayed in the group). Returns 0 or a negative errno; ESRCH
 * (nothing left) is success. */
int sup_proc_kill_group(pid_t pid, int sig);

/* Builds a child's environment: muster's own, then `set` (NAME=value
 * strings, later ones win). Returns a NULL-terminated array (one malloc
 * block plus copies; free with sup_proc_env_free) or NULL. */
char **sup_proc_env_build(char *const *base, char *const *set, size_t nset);
void sup_proc_env_free(char **env);

/* Milliseconds of the monotonic clock. */
uint64_t sup_now_ms(void);

#endif
