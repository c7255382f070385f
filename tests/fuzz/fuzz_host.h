/* fuzz_host — the in-process host of the gateway's fuzz drivers (fuzz_http
 * and fuzz_h2 through fuzz_gw.h, fuzz_tls): a temporary directory for its
 * logs and files, removed at exit; the config parsed from the driver's
 * text; the host initialised with libFuzzer's signals left to libFuzzer.
 * Included by one driver each (static). */
#ifndef MUSTER_FUZZ_HOST_H
#define MUSTER_FUZZ_HOST_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "sup_host.h"
#include "sup_log.h"

static char *fuzz_dir; /* the driver's mkdtemp template, made */

/* Removes fuzz_dir and the files in it (it has no subdirectories). */
static void fuzz_dir_remove(void) {
  DIR *d = opendir(fuzz_dir);
  struct dirent *e;
  char path[4096];
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir, e->d_name);
    unlink(path);
  }
  if (d)
    closedir(d);
  rmdir(fuzz_dir);
}

/* Makes the directory of templ ("/tmp/...-XXXXXX", changed in place),
 * removed at exit. */
static void fuzz_dir_make(char *templ) {
  if (mkdtemp(templ) == NULL)
    abort();
  fuzz_dir = templ;
  atexit(fuzz_dir_remove);
}

/* The config of text, or abort with its errors. */
static struct cfg *fuzz_cfg(const char *text) {
  struct cfg_env env = {.file = "fuzz.json", .dir = "/tmp", .path = "/usr/bin:/bin"};
  struct cfg *cfg = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_parse(text, strlen(text), &env, &cfg, &errs) != 0) {
    cfg_errors_print(&errs, stderr);
    abort();
  }
  cfg_errors_free(&errs);
  return cfg;
}

/* Initialises h on loop with cfg (its own), quiet but for errors. The
 * host takes SIGINT and friends: they go back to libFuzzer. */
static void fuzz_host_init(struct sup_host *h, uv_loop_t *lp, struct cfg *cfg) {
  struct sigaction saved[4];
  int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
  sup_log_set_level(SUP_ERROR);
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], NULL, &saved[i]);
  if (sup_host_init(h, lp, cfg, "fuzz.json", NULL) != 0)
    abort();
  uv_signal_stop(&h->sig_term);
  uv_signal_stop(&h->sig_int);
  uv_signal_stop(&h->sig_hup);
  uv_signal_stop(&h->sig_usr1);
  for (int i = 0; i < 4; i++)
    sigaction(sigs[i], &saved[i], NULL);
}

#endif
