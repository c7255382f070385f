/* gw_tls_load — the gateway's side of TLS: opens the TLS module the first
 * time a config enables TLS and calls through its table. See gw_tls.h and
 * gw_tls_mod.h. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "gw.h"
#include "gw_tls_mod.h"
#include "sup_log.h"

/* Where muster-tls.so is, relative to the directory of the muster binary
 * (set by CMake: the same in the build tree and once installed). */
#ifndef GW_TLS_MOD_DIR
#define GW_TLS_MOD_DIR "../lib/muster"
#endif

/* Linked in (tests, fuzzers): the table is there and nothing is opened.
 * In the muster binary the weak reference stays NULL. */
extern const struct gw_tls_mod gw_tls_module __attribute__((weak));

/* The module's table once opened: process-wide, as the mapping is; it is
 * never closed (connections may still run its code at exit). */
static const struct gw_tls_mod *loaded;

/* path = the module next to this binary: its directory (symbolic links
 * resolved by the kernel), then GW_TLS_MOD_DIR with its leading "../"
 * taken off that directory. Returns 0, or -1 (why set). */
static int module_path(char *path, size_t cap, const char **why) {
  char dir[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
  if (n <= 0) {
    *why = "cannot read /proc/self/exe";
    return -1;
  }
  dir[n] = '\0';
  *strrchr(dir, '/') = '\0';
  const char *rel = GW_TLS_MOD_DIR;
  char *slash;
  while (strncmp(rel, "../", 3) == 0 && (slash = strrchr(dir, '/')) != NULL) {
    *slash = '\0';
    rel += 3;
  }
  if ((size_t)snprintf(path, cap, "%s/%s/%s", dir, rel, GW_TLS_MOD_FILE) >= cap) {
    *why = "its path is too long";
    return -1;
  }
  return 0;
}

/* 1 when m was built with this binary's table and structures. */
static int same_build(const struct gw_tls_mod *m) {
  return m->abi == GW_TLS_MOD_ABI && strcmp(m->version, MUSTER_VERSION) == 0 &&
         m->conn_size == sizeof(struct gw_conn) && m->server_size == sizeof(struct gw_server);
}

/* The table, opened on the first call; NULL with the reason logged. */
static const struct gw_tls_mod *module(void) {
  if (loaded != NULL)
    return loaded;
  if (&gw_tls_module != NULL)
    return loaded = &gw_tls_module;
  char path[PATH_MAX + 64] = "";
  const char *why = NULL;
  void *h = NULL;
  if (module_path(path, sizeof(path), &why) != 0)
    path[0] = '\0';
  else if (access(path, R_OK) != 0)
    why = strerror(errno); /* dlerror would say the path again */
  else if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
    why = dlerror();
  const struct gw_tls_mod *m = h ? dlsym(h, "gw_tls_module") : NULL;
  if (h != NULL && (m == NULL || !same_build(m))) {
    why = m == NULL ? "no gw_tls_module in it" : "it is from another build of muster";
    dlclose(h);
    m = NULL;
  }
  if (m == NULL)
    sup_log(SUP_ERROR, "gateway: TLS needs the module %s: %s", path[0] ? path : GW_TLS_MOD_FILE,
            why);
  return loaded = m;
}

int gw_tls_start(struct gw_server *srv, struct gw_tls_server **out) {
  *out = NULL;
  if (!srv->cfg->tls.enabled)
    return 0;
  const struct gw_tls_mod *m = module();
  return m ? m->start(srv, out) : -1;
}

int gw_tls_listen(struct gw_tls_server *ts) {
  return ts ? loaded->listen(ts) : 0;
}

void gw_tls_unlisten(struct gw_tls_server *ts) {
  if (ts)
    loaded->unlisten(ts);
}

int gw_tls_sockname(struct gw_tls_server *ts, struct sockaddr_storage *ss) {
  return ts ? loaded->sockname(ts, ss) : UV_EINVAL;
}

int gw_tls_reload_prepare(struct gw_server *srv, const struct cfg *nc, struct cfg_errors *errs) {
  if (srv->tls == NULL && nc->gateway.tls.enabled) { /* added by this reload */
    const struct gw_tls_mod *m = module();
    if (m == NULL) {
      cfg_errors_add(errs, "gateway.tls: the TLS module cannot be opened (the log says why)");
      return -1;
    }
    if (m->add(srv, &srv->tls) != 0) {
      cfg_errors_add(errs, "gateway.tls: out of memory");
      return -1;
    }
  }
  return srv->tls ? loaded->reload_prepare(srv->tls, nc, errs) : 0;
}

void gw_tls_reload_commit(struct gw_tls_server *ts, const struct cfg *nc) {
  if (ts)
    loaded->reload_commit(ts, nc);
}

void gw_tls_render_metrics(const struct gw_tls_server *ts, struct ipc_buf *b) {
  if (ts)
    loaded->render_metrics(ts, b);
}

void gw_tls_free(struct gw_tls_server *ts) {
  if (ts)
    loaded->free(ts);
}

int gw_tls_check(const struct cfg *c, FILE *f) {
  if (!c->gateway.tls.enabled)
    return 0;
  const struct gw_tls_mod *m = module();
  if (m == NULL) {
    fprintf(f, "gateway.tls: the TLS module cannot be opened (see above)\n");
    return -1;
  }
  return m->check(c, f);
}
