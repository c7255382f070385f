/* Unit tests for sup_exec: the --exec-as command line for a service's
 * user, umask, nice and limits, and the shim's refusal of malformed ones
 * (which return before anything is changed or run). */
#include <stdlib.h>
#include <string.h>

#include "sup_exec.h"
#include "test.h"

/* argv joined by spaces into out. */
static const char *joined(char **argv, char *out, size_t cap) {
  size_t k = 0;
  out[0] = '\0';
  for (size_t i = 0; argv[i] != NULL && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? " " : "", argv[i]);
  return out;
}

TEST(argv_for_each_setting) {
  char *cmd[] = {"/usr/bin/node", "app.js", NULL}, *owned, buf[512];
  struct cfg_identity as = {0};
  struct cfg_proc proc = {.umask = -1};
  CHECK(sup_exec_argv(&as, &proc, cmd, &owned) == cmd && owned == NULL); /* nothing to change */
  CHECK(sup_exec_argv(&as, NULL, cmd, &owned) == cmd && owned == NULL);
  proc.umask = 027;
  proc.nice_set = 1;
  proc.nice = -5;
  proc.limit_set[CFG_LIMIT_NOFILE] = proc.limit_set[CFG_LIMIT_CORE] = 1;
  proc.limit[CFG_LIMIT_NOFILE] = 1000;
  proc.limit[CFG_LIMIT_CORE] = CFG_LIMIT_INFINITY;
  char **argv = sup_exec_argv(&as, &proc, cmd, &owned);
  CHECK(argv != NULL && owned != NULL);
  if (argv)
    CHECK_STR(joined(argv, buf, sizeof(buf)),
              "muster --exec-as - - - --umask 027 --nice -5 --rlimit nofile=1000 "
              "--rlimit core=infinity -- /usr/bin/node app.js");
  free(owned);
  as = (struct cfg_identity){.set_uid = 1, .set_gid = 1, .uid = 33, .gid = 33, .login = "www-data"};
  argv = sup_exec_argv(&as, NULL, cmd, &owned);
  if (argv)
    CHECK_STR(joined(argv, buf, sizeof(buf)),
              "muster --exec-as www-data 33 33 -- /usr/bin/node app.js");
  free(owned);
}

TEST(malformed_lines_are_refused) {
  char *bad[][10] = {
      {"muster", "--exec-as", "-", "-", "-", "--nice", "x", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--nice", "20", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--umask", "9", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--rlimit", "files=1", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--rlimit", "nofile=", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--bogus", "1", "--", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", "-", "--umask", "027", "/bin/true", NULL},
      {"muster", "--exec-as", "-", "-", NULL}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int argc = 0;
    while (bad[i][argc] != NULL)
      argc++;
    CHECK_INT(sup_exec_main(argc, bad[i]), 2);
  }
}

int main(void) {
  RUN(argv_for_each_setting);
  RUN(malformed_lines_are_refused);
  return test_summary();
}
