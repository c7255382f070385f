/* sup_exec — the --exec-as shim and the argv that runs it. See sup_exec.h. */
#include "sup_exec.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_CANNOT 126 /* as a shell reports "found but cannot run" */

/* The RLIMIT_ of each CFG_LIMIT_, by its index. */
static const int resources[CFG_LIMIT__COUNT] = {[CFG_LIMIT_NOFILE] = RLIMIT_NOFILE,
                                                [CFG_LIMIT_NPROC] = RLIMIT_NPROC,
                                                [CFG_LIMIT_CORE] = RLIMIT_CORE,
                                                [CFG_LIMIT_MEMLOCK] = RLIMIT_MEMLOCK,
                                                [CFG_LIMIT_STACK] = RLIMIT_STACK};

#define NUM 24        /* a uid, a gid, a umask, a nice value */
#define LIMIT_TEXT 40 /* "memlock=18446744073709551615" */
#define FIXED 6       /* muster --exec-as USER UID GID ... -- */
#define OPTS (2 * (2 + CFG_LIMIT__COUNT))

/* The options of proc into argv from *k, their text in text. */
static void proc_options(const struct cfg_proc *proc, char **argv, size_t *k, char *text) {
  if (proc->umask >= 0) {
    snprintf(text, NUM, "%03o", (unsigned)proc->umask);
    argv[(*k)++] = "--umask";
    argv[(*k)++] = text;
  }
  if (proc->nice_set) {
    snprintf(text + NUM, NUM, "%d", proc->nice);
    argv[(*k)++] = "--nice";
    argv[(*k)++] = text + NUM;
  }
  for (int i = 0; i < CFG_LIMIT__COUNT; i++) {
    char *t = text + 2 * NUM + (size_t)i * LIMIT_TEXT;
    if (!proc->limit_set[i])
      continue;
    if (proc->limit[i] == CFG_LIMIT_INFINITY)
      snprintf(t, LIMIT_TEXT, "%s=infinity", cfg_limit_name(i));
    else
      snprintf(t, LIMIT_TEXT, "%s=%llu", cfg_limit_name(i), (unsigned long long)proc->limit[i]);
    argv[(*k)++] = "--rlimit";
    argv[(*k)++] = t;
  }
}

char **sup_exec_argv(const struct cfg_identity *as, const struct cfg_proc *proc,
                     char *const *command, char **owned) {
  size_t n = 0, k = FIXED - 1;
  *owned = NULL;
  if (!as->set_uid && !as->set_gid && (proc == NULL || !cfg_proc_any(proc)))
    return (char **)command;
  while (command[n] != NULL)
    n++;
  size_t slots = FIXED + OPTS + n + 1;
  char *block = malloc(slots * sizeof(char *) + 2 * NUM + 2 * NUM + CFG_LIMIT__COUNT * LIMIT_TEXT);
  if (block == NULL)
    return NULL;
  char **argv = (char **)block, *nums = block + slots * sizeof(char *);
  snprintf(nums, NUM, "%u", (unsigned)as->uid);
  snprintf(nums + NUM, NUM, "%u", (unsigned)as->gid);
  argv[0] = "muster";
  argv[1] = SUP_EXEC_FLAG;
  argv[2] = as->set_uid && as->login ? as->login : "-";
  argv[3] = as->set_uid ? nums : "-";
  argv[4] = as->set_gid ? nums + NUM : "-";
  if (proc != NULL)
    proc_options(proc, argv, &k, nums + 2 * NUM);
  argv[k++] = "--";
  for (size_t i = 0; i <= n; i++)
    argv[k + i] = command[i];
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
  if (!set_uid && strcmp(gid_s, "-") == 0)
    return 0; /* only the process's settings change */
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

/* One limit "NAME=N" or "NAME=infinity", set soft and hard. Returns 0,
 * 2 (malformed) or the exit code of a refusal. */
static int set_limit(const char *arg) {
  const char *eq = strchr(arg, '=');
  for (int i = 0; eq != NULL && i < CFG_LIMIT__COUNT; i++) {
    if (strncmp(arg, cfg_limit_name(i), (size_t)(eq - arg)) != 0 ||
        cfg_limit_name(i)[eq - arg] != '\0')
      continue;
    char *end;
    struct rlimit rl;
    errno = 0;
    rl.rlim_cur = strcmp(eq + 1, "infinity") == 0 ? RLIM_INFINITY : strtoull(eq + 1, &end, 10);
    if (rl.rlim_cur != RLIM_INFINITY && (errno != 0 || *end != '\0' || eq[1] == '\0'))
      return 2;
    rl.rlim_max = rl.rlim_cur;
    return setrlimit(resources[i], &rl) == 0 ? 0 : cannot("setrlimit", arg, errno);
  }
  return 2;
}

/* The options before "--" from argv[*i]: limits, nice, umask, each
 * applied at once (before the user changes: raising a hard limit or
 * lowering nice needs root). Returns 0, 2 (malformed) or the exit code. */
static int apply_options(int argc, char **argv, int *i) {
  int rc = 0;
  for (; rc == 0 && *i + 1 < argc && strcmp(argv[*i], "--") != 0; *i += 2) {
    const char *opt = argv[*i], *val = argv[*i + 1];
    char *end;
    long v = 0;
    if (strcmp(opt, "--rlimit") == 0) {
      rc = set_limit(val);
    } else if (strcmp(opt, "--nice") == 0) {
      v = strtol(val, &end, 10);
      if (*end != '\0' || v < -20 || v > 19)
        rc = 2;
      else if (setpriority(PRIO_PROCESS, 0, (int)v) != 0)
        rc = cannot("setpriority", val, errno);
    } else if (strcmp(opt, "--umask") == 0) {
      v = strtol(val, &end, 8);
      rc = *end != '\0' || v < 0 || v > 0777 ? 2 : (umask((mode_t)v), 0);
    } else {
      rc = 2;
    }
  }
  return rc == 0 && (*i >= argc || strcmp(argv[*i], "--") != 0) ? 2 : rc;
}

int sup_exec_main(int argc, char **argv) {
  /* muster --exec-as USER UID GID [OPTION VALUE]... -- PROGRAM ARGS... */
  int i = 5;
  if (argc < 7 || strcmp(argv[1], SUP_EXEC_FLAG) != 0) {
    fprintf(stderr, "usage: muster " SUP_EXEC_FLAG " USER|- UID|- GID|- [--umask OCTAL] "
                    "[--nice N] [--rlimit NAME=N]... -- PROGRAM [ARGS...]\n");
    return 2;
  }
  int rc = apply_options(argc, argv, &i);
  if (rc == 0)
    rc = drop(argv[2], argv[3], argv[4]);
  if (rc != 0) {
    if (rc == 2)
      fprintf(stderr, "muster " SUP_EXEC_FLAG ": malformed arguments\n");
    return rc;
  }
  if (i + 1 >= argc) {
    fprintf(stderr, "muster " SUP_EXEC_FLAG ": no program after --\n");
    return 2;
  }
  execv(argv[i + 1], argv + i + 1);
  int err = errno;
  cannot("execv", argv[i + 1], err);
  return err == ENOENT ? 127 : EXIT_CANNOT;
}
