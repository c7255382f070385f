/* sup_probe — the readiness of an instance that does not speak IPC.
 * An upstream's (services[].upstream.ready "port", SPEC §9): its port, or
 * its Unix socket, is tried until it accepts a connection, and that is
 * the instance's READY event. A worker's (services[].ready "running"):
 * still running ready_after_ms (default 10) after the spawn is READY, as
 * systemd's Type=simple and PM2 count a program started once it runs,
 * and supervisord's startsecs once it ran that long.
 *
 * The first try is 10 ms after the spawn, each next one twice the last
 * delay later, at most 500 ms apart; the instance's own deadline
 * (ready_timeout_ms) bounds the whole. A try connects and closes at once
 * what it got. The delay between tries ends in the instance's PROBE
 * event, so its state table decides whether a try is still wanted (in
 * STARTING only). A probe is detached from its instance when cancelled and
 * frees itself once its handles are closed: a late callback never reaches
 * an instance that moved on. */
#ifndef MUSTER_SUP_PROBE_H
#define MUSTER_SUP_PROBE_H

#include <stdint.h>

struct sup_instance;
struct sup_probe;

#define SUP_PROBE_FIRST_MS 10 /* the first delay after the spawn */
#define SUP_PROBE_MAX_MS 500  /* the delay between tries at most */

/* Starts probing 127.0.0.1:port (port > 0) or the Unix socket path for
 * inst: the first PROBE event comes after SUP_PROBE_FIRST_MS. With
 * neither (port 0, path NULL), inst is a worker: READY comes after its
 * ready_after_ms instead. Returns the probe, or NULL on out of memory (then the ready
 * deadline decides). */
struct sup_probe *sup_probe_start(struct sup_instance *inst, int port, const char *path);

/* One try now (the PROBE event in STARTING). Its success raises READY;
 * its failure arms the next PROBE. */
void sup_probe_try(struct sup_probe *p);

/* Detaches p from its instance and closes it; nothing more is raised. */
void sup_probe_cancel(struct sup_probe *p);

/* The delay after one of last ms: 10, 20, 40, ... up to 500. Pure. */
uint64_t sup_probe_next_delay(uint64_t last);

/* What is tried, for messages: "port 3000" or "socket /x/y.0". */
const char *sup_probe_what(const struct sup_probe *p);

#endif
