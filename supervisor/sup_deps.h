/* sup_deps — the order services[].depends_on gives to starts and stops.
 *
 * At muster's start, and when a reload adds a service, a service whose
 * dependencies do not all have a ready instance yet is not started: it is
 * `waiting` (state starting, event `waiting`), and every change of an
 * instance's state looks again, at a safe point (a zero timer of the host),
 * whether the waiting ones may start. At shutdown the order is reversed: a
 * service is stopped once no service that depends on it has a process
 * left (each waits for its dependents to be gone).
 *
 * Only start and stop are ordered (systemd's Wants=): stopping or losing a
 * dependency later does nothing to its dependents, and `musterctl start`
 * starts a service at once. The graph has no cycle (config/cfg_deps.c). */
#ifndef MUSTER_SUP_DEPS_H
#define MUSTER_SUP_DEPS_H

#include <stddef.h>

struct sup_host;
struct sup_service;

/* Starts svc now when its dependencies are ready, else makes it wait. */
void sup_deps_start(struct sup_host *h, struct sup_service *svc);

/* Starts every waiting service whose dependencies have become ready. */
void sup_deps_step(struct sup_host *h);

/* Shutdown: stops every service whose dependents are all gone (and that
 * was not stopped yet). */
void sup_deps_shutdown_step(struct sup_host *h);

/* Up to max names (borrowed from the config) of the dependencies svc
 * waits for: none unless it is waiting. Returns how many. */
size_t sup_deps_waiting_for(const struct sup_host *h, const struct sup_service *svc,
                            const char **out, size_t max);

/* Up to max names of svc's dependencies that are in state failed.
 * Returns how many. */
size_t sup_deps_failed(const struct sup_host *h, const struct sup_service *svc, const char **out,
                       size_t max);

/* The live service called name, or NULL. */
struct sup_service *sup_deps_find(const struct sup_host *h, const char *name);

#endif
