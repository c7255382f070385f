/* sup_service — one configured service: its instances, its restart window,
 * its log file, and the service-level state `status` reports. */
#ifndef MUSTER_SUP_SERVICE_H
#define MUSTER_SUP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "sup_backoff.h"
#include "sup_instance.h"
#include "sup_logfile.h"

struct sup_host;

/* XX(ENUM, "name") for the service states of SPEC §5. */
#define SUP_SSTATE_MAP(XX)                                                     \
  XX(RUNNING, "running")                                                       \
  XX(DEGRADED, "degraded")                                                     \
  XX(STARTING, "starting")                                                     \
  XX(STOPPED, "stopped")                                                       \
  XX(FAILED, "failed")

enum sup_sstate {
#define XX(e, s) SUP_S_##e,
  SUP_SSTATE_MAP(XX)
#undef XX
};

const char *sup_sstate_name(enum sup_sstate s);

struct sup_service {
  struct sup_host *host;          /* owner */
  const struct cfg_service *cfg;  /* borrowed from the host's config */
  struct sup_instance **inst;     /* instances, index = position; owned */
  size_t ninst;                   /* entries in inst */
  struct sup_window window;       /* restarts within restart.window_s */
  struct sup_logfile *log;        /* logs/<name>.log, shared by instances */
  uint64_t restarts_total;        /* restarts since muster started */
  size_t rr;                      /* round-robin cursor for the gateway */
  unsigned stopped : 1;           /* stopped on request: no restarts */
  unsigned failed : 1;            /* crash loop: no restarts until start */
};

/* Creates the service and its instances (not started). Returns NULL with
 * a message logged on failure (log file cannot be opened, out of memory). */
struct sup_service *sup_service_new(struct sup_host *host, const struct cfg_service *cfg);

/* Frees the service; every instance must be exited. */
void sup_service_free(struct sup_service *svc);

/* Starts every instance that is not running; clears stopped and failed. */
void sup_service_start(struct sup_service *svc);

/* Stops every instance gracefully; no restarts until started again. */
void sup_service_stop(struct sup_service *svc);

/* The service-level state. */
enum sup_sstate sup_service_state(const struct sup_service *svc);

/* 1 when no instance has a process. */
int sup_service_all_exited(const struct sup_service *svc);

/* Called by an instance whose state changed. */
void sup_service_changed(struct sup_service *svc);

/* Puts the service in state failed after inst's crash loop. */
void sup_service_fail(struct sup_service *svc, struct sup_instance *inst);

#endif
