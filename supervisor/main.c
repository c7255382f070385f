/* muster — the host binary (SPEC §1).
 *
 *   muster [-c FILE]            run in the foreground, log to stderr
 *   muster --check [-c FILE]    validate the config like `nginx -t`
 *   muster --version
 *
 * FILE defaults to $MUSTER_CONFIG, then config/muster.json. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "cl_node.h"
#include "ctl_server.h"
#include "gw_tls.h"
#include "gw_rt.h"
#include "gw_server.h"
#include "sup_exec.h"
#include "sup_host.h"
#include "sup_log.h"
#include "sup_nofile.h"
#include "sup_notify.h"

static void usage(FILE *f) {
  fprintf(f, "usage: muster [-c FILE] [--check] [--version]\n"
             "  -c, --config FILE  config file (default: $MUSTER_CONFIG, then "
             "config/muster.json)\n"
             "  -t, --check        validate the config and exit: 0 and \"config ok\", or 1\n"
             "  -v, --version      print the version\n"
             "Signals: TERM/INT stop gracefully (twice: at once), HUP reloads, USR1 reopens "
             "logs.\n");
}

/* The directory holding this binary (commands are looked up there first).
 * Returns a malloc'd path or NULL. */
static char *self_dir(void) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  return strdup(dirname(buf));
}

/* The command line. Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, const char **config, int *check) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
      *config = argv[++i];
    } else if (strncmp(a, "--config=", 9) == 0) {
      *config = a + 9;
    } else if (strcmp(a, "-t") == 0 || strcmp(a, "--check") == 0) {
      *check = 1;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("muster %s\n", MUSTER_VERSION);
      return 0;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "muster: unknown argument \"%s\"\n", a);
      usage(stderr);
      return 2;
    }
  }
  return -1;
}

/* Loads and validates the config; prints every problem. NULL when invalid. */
static struct cfg *load(const char *config, const char *bin_dir, int check) {
  struct cfg *cfg = NULL;
  struct cfg_errors errs;
  cfg_errors_init(&errs);
  if (cfg_load(config, bin_dir, &cfg, &errs) != 0) {
    cfg_errors_print(&errs, stderr);
    if (!check)
      fprintf(stderr, "muster: %s: invalid config; not starting\n", config);
  }
  cfg_errors_free(&errs);
  return cfg;
}

/* ---- Several hosts (SPEC §10) ---- */

static int cluster_publish(void *node, struct rt_pub *pub) {
  return cl_node_publish(node, pub);
}

/* Everything is stopped: the cluster node closes its connections. */
static void cluster_finished(void *ctx) {
  struct sup_host *h = ctx;
  struct cl_node *cl = h->cluster.node;
  h->cluster = (struct sup_cluster){0};
  if (cl)
    cl_node_close(cl, NULL, NULL);
}

/* Joins the cluster when the config has one. Returns 0 or UV_ENOMEM. */
static int cluster_start(struct sup_host *h, struct gw_server *gw) {
  struct cl_node *cl;
  const struct cl_hooks ch = {.ctx = gw, .conn_msg = gw_cluster_conn_msg};
  const struct sup_host_hooks hh = {.ctx = h, .finished = cluster_finished};
  if (!h->cfg->cluster.enabled)
    return 0;
  if (cl_node_new(&cl, h->loop, &h->cfg->cluster, &h->cfg->realtime, &h->rooms, &ch) != 0)
    return UV_ENOMEM;
  h->cluster = (struct sup_cluster){.node = cl, .publish = cluster_publish};
  sup_host_add_hooks(h, &hh);
  return 0;
}

/* ---- systemd's socket activation (util_listenfds.h) ---- */

/* Takes the listening sockets systemd passed, if any, into l; logs the
 * ones it refuses (and closes them). The variables go: no child sees them. */
static void listen_fds_take(struct util_listenfds *l) {
  char why[200];
  int n =
      util_listenfds_count(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getpid(), why, sizeof(why));
  memset(l, 0, sizeof(*l));
  if (n < 0)
    sup_log(SUP_WARN, "socket activation: %s; no socket taken", why);
  if (n != 0) {
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
  }
  for (int i = 0; i < n; i++) {
    if (util_listenfds_add(l, UTIL_LISTENFDS_FIRST + i, why, sizeof(why)) != 0) {
      sup_log(SUP_WARN, "socket activation: %s; closed", why);
      close(UTIL_LISTENFDS_FIRST + i);
    }
  }
}

/* Once the listeners are open: what systemd passed and who took it. */
static void listen_fds_report(const struct util_listenfds *l) {
  char name[80];
  for (size_t i = 0; i < l->n; i++) {
    util_listenfds_name(l, i, name, sizeof(name));
    if (l->taken[i])
      sup_log(SUP_INFO, "socket activation: listening on %s from systemd", name);
    else
      sup_log(SUP_WARN,
              "socket activation: no listen address of the config is %s; the socket is kept "
              "for a reload",
              name);
  }
}

/* Runs the host on cfg (owned from here) until it is done. Returns the
 * exit code. */
static int run(struct cfg *cfg, const char *config, const char *bin_dir) {
  uv_loop_t *loop = uv_default_loop();
  struct sup_host host;
  struct util_listenfds fds;
  listen_fds_take(&fds); /* before the host copies the environment */
  int init = sup_host_init(&host, loop, cfg, config, bin_dir);
  host.listen_fds = fds; /* the host's from here: freed with it */
  if (init != 0) {
    sup_log(SUP_ERROR, "cannot set up the host; exiting");
    sup_host_free(&host);
    return 1;
  }
  struct gw_server *gw = gw_server_start(&host);
  struct ctl_server *ctl = !gw_server_failed(gw) ? ctl_server_start(&host) : NULL;
  struct gw_server *admin = NULL;
  struct sup_notify *notify = NULL;
  int ok = !gw_server_failed(gw) && ctl != NULL && cluster_start(&host, gw) == 0;
  if (ok) /* listening when the config has admin; a reload may add it */
    ok = (admin = gw_admin_start(&host, gw)) != NULL;
  if (!ok) {
    host.exit_code = 1; /* nothing started yet: wind the host down */
    sup_host_shutdown(&host);
  } else {
    listen_fds_report(&host.listen_fds);
    notify = sup_notify_start(&host); /* listeners are open: systemd may hear READY */
    sup_host_start(&host);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = host.exit_code;
  gw_server_free(admin);
  gw_server_free(gw);
  ctl_server_free(ctl);
  sup_notify_free(notify);
  sup_host_free(&host);
  uv_loop_close(loop);
  return rc;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], SUP_EXEC_FLAG) == 0)
    return sup_exec_main(argc, argv); /* a child changing its user (sup_exec.h) */
  const char *config = getenv("MUSTER_CONFIG");
  int check = 0, rc = parse_args(argc, argv, &config, &check);
  if (rc >= 0)
    return rc;
  if (config == NULL || *config == '\0')
    config = "config/muster.json";
  sup_log_init_from_env();
  char *bin_dir = self_dir();
  struct cfg *cfg = load(config, bin_dir, check);
  if (cfg != NULL && check && gw_tls_check(cfg, stderr) != 0) {
    cfg_free(cfg); /* a certificate that does not load (SPEC §13) */
    cfg = NULL;
  }
  if (cfg == NULL || check) {
    if (cfg)
      printf("config ok\n");
    cfg_free(cfg);
    free(bin_dir);
    return cfg ? 0 : 1;
  }
  sup_nofile_raise(cfg); /* before any listener or instance */
  rc = run(cfg, config, bin_dir);
  free(bin_dir);
  return rc;
}
