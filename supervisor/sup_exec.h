/* sup_exec — running a child as another user (services[].user, group).
 *
 * libuv's uv_spawn() can setgid() and setuid() in the child
 * (UV_PROCESS_SETGID/SETUID), but it drops every supplementary group
 * (setgroups(0, NULL)) and offers no hook to set them: a service running
 * as www-data would lose the groups that let it read its certificates or
 * its socket directory. So the child runs muster's own binary first
 * (/proc/self/exe, the very file muster runs from even if the package was
 * upgraded meanwhile) in a small mode of its own:
 *
 *   muster --exec-as USER UID GID [--rlimit NAME=N] [--nice N]
 *                                [--umask OCTAL] -- PROGRAM ARGS...
 *
 * which, before anything else of muster runs, applies the options
 * (services[].limits, nice, umask: setrlimit, setpriority, umask, while
 * it may still raise a hard limit or lower nice), then calls
 * initgroups(USER, GID)
 * (or setgroups(1, [GID]) when USER is "-": only a group is configured),
 * setgid(GID), setuid(UID) (skipped when UID is "-"), in that order, checks
 * each call and that root cannot be regained (GID "-" too: no change of
 * identity, only the options), and execv()s the program
 * with the environment it got. Looking the groups up in the child also
 * keeps the group database (NSS, maybe LDAP) off muster's loop. A failure
 * is written to the child's stderr (the service's log) and the child
 * exits 126, which the supervisor sees as a crash of the instance. A tiny
 * separate binary would do the same, but would have to be installed and
 * found; muster's own file is always there. */
#ifndef MUSTER_SUP_EXEC_H
#define MUSTER_SUP_EXEC_H

#include "cfg.h"

#define SUP_EXEC_FLAG "--exec-as"

/* The argv to spawn for command run as `as` with proc's settings (NULL:
 * none): command itself (borrowed, not copied) when nothing is to change
 * (*owned = NULL), else a new array (*owned, free with free(); its strings
 * borrow from command and from *owned's own storage) whose [0] is
 * "muster" and which is to be run as SUP_EXEC_SELF. Returns NULL on out
 * of memory. */
char **sup_exec_argv(const struct cfg_identity *as, const struct cfg_proc *proc,
                     char *const *command, char **owned);

/* What to pass to uv_spawn as the file with such an argv. */
#define SUP_EXEC_SELF "/proc/self/exe"

/* The --exec-as mode (main.c calls it when argv[1] is SUP_EXEC_FLAG):
 * drops privileges and execs the program. Returns only on failure: the
 * exit code (126; 2 for a malformed command line). */
int sup_exec_main(int argc, char **argv);

#endif
