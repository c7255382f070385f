/* sup_exec — the --exec-as shim and the argv that runs it. See sup_exec.h. */
#include "sup_exec.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_CANNOT 126 /* as a shell reports "found but cannot run" */

char **sup_exec_argv(const struct cfg_identity *as, char *const *command, char **owned) {
  size_t n = 0;
  *owned = NULL;
  if (!as->set_uid && !as->set_gid)
    return (char **)command;
  while (command[n] != NULL)
    n++;
  size_t slots = 6 + n + 1;
  char *block = malloc(slots * sizeof(char *) + 48);
  if (block == NULL)
    return NULL;
  char **argv = (char **)block, *nums = block + slots * sizeof(char *);
  snprintf(nums, 24, "%u", (unsigned)as->uid);
  snprintf(nums + 24, 24, "%u", (unsigned)as->gid);
  argv[0] = "muster";
  argv[1] = SUP_EXEC_FLAG;
  argv[2] = as->set_uid && as->login ? as->login : "-";
  argv[3] = as->set_uid ? nums : "-";
  argv[4] = nums + 24;
  argv[5] = "--";
  for (size_t i = 0; i <= n; i++)
    argv[6 + i] = command[i];
  *owned = block;
  return argv;
}

/* Reports what failed on stderr (the service's log). Returns 126. */
static int cannot(const char *what, const char *arg, int err) {
  fprintf(stderr, "muster --exec-as: %s(%s) failed: %s; not starting the program\n", what, arg,
          strerror(err));
  return EXIT_CANNOT;
}

/* Parses a uid or gid (decimal, no sign). Returns 0 or -1. */
static int parse_id(const char *s, unsigned long *out) {
  char *end;
  if (s[0] < '0' || s[0] > '9')
    return -1;
  errno = 0;
  *out = strtoul(s, &end, 10);
  return errno == 0 && *end == '\0' && *out < 0xffffffffUL ? 0 : -1;
}

/* Groups, then group, then user: each checked, in the order that keeps
 * the right to make the next call. Returns 0 or the exit code. */
static int drop(const char *user, const char *uid_s, const char *gid_s) {
  unsigned long uid = 0, gid;
  int set_uid = strcmp(uid_s, "-") != 0;
  if (parse_id(gid_s, &gid) != 0 || (set_uid && parse_id(uid_s, &uid) != 0))
    return 2;
  gid_t g = (gid_t)gid;
  if (strcmp(user, "-") != 0 ? initgroups(user, g) != 0 : setgroups(1, &g) != 0)
    return cannot(strcmp(user, "-") != 0 ? "initgroups" : "setgroups", user, errno);
  if (setgid(g) != 0)
    return cannot("setgid", gid_s, errno);
  if (getgid() != g || getegid() != g)
    return cannot("setgid", gid_s, EPERM);
  if (!set_uid)
    return 0;
  if (setuid((uid_t)uid) != 0)
    return cannot("setuid", uid_s, errno);
  if (getuid() != (uid_t)uid || geteuid() != (uid_t)uid)
    return cannot("setuid", uid_s, EPERM);
  if (uid != 0 && setuid(0) == 0) /* must not be possible any more */
    return cannot("setuid", "0 must fail", EPERM);
  return 0;
}

int sup_exec_main(int argc, char **argv) {
  /* muster --exec-as USER UID GID -- PROGRAM ARGS... */
  if (argc < 7 || strcmp(argv[1], SUP_EXEC_FLAG) != 0 || strcmp(argv[5], "--") != 0) {
    fprintf(stderr, "usage: muster " SUP_EXEC_FLAG " USER|- UID|- GID -- PROGRAM [ARGS...]\n");
    return 2;
  }
  int rc = drop(argv[2], argv[3], argv[4]);
  if (rc != 0) {
    if (rc == 2)
      fprintf(stderr, "muster " SUP_EXEC_FLAG ": malformed ids \"%s\" \"%s\"\n", argv[3], argv[4]);
    return rc;
  }
  execv(argv[6], argv + 6);
  int err = errno;
  cannot("execv", argv[6], err);
  return err == ENOENT ? 127 : EXIT_CANNOT;
}
