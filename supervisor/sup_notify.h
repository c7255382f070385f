/* sup_notify — systemd's service notifications (sd_notify(3)) without
 * libsystemd: one datagram per message to the Unix socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for an abstract socket).
 *
 *   READY=1        once the listeners are open (the caller starts this
 *                  after them) and every service has a ready instance, or
 *                  has failed to get one: failed, stopped, or each of its
 *                  instances has had a first try that ended without ready
 *   RELOADING=1    with MONOTONIC_USEC=, when a reload applied; READY=1
 *                  follows once every service is settled again
 *   STOPPING=1     when shutdown begins
 *   STATUS=...     what the host is doing, sent whenever that text changes
 *   WATCHDOG=1     every half of $WATCHDOG_USEC, from a loop timer (so a
 *                  stuck loop misses it), unless $WATCHDOG_PID names
 *                  another process
 *
 * It plugs into the host as an event listener and a set of hooks; no
 * child inherits these variables (sup_proc_env_build drops them). */
#ifndef MUSTER_SUP_NOTIFY_H
#define MUSTER_SUP_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct sup_host;
struct sup_notify;

/* Starts notifying for host h when $NOTIFY_SOCKET is set. Call it once
 * the listeners are open, before sup_host_start(). Returns the notifier
 * (owned; end it with sup_notify_free() after the loop), or NULL when
 * there is nothing to notify (no $NOTIFY_SOCKET) or it cannot be set up
 * (logged): muster runs on either way. */
struct sup_notify *sup_notify_start(struct sup_host *h);

/* Frees the notifier once the loop has ended (NULL is fine). */
void sup_notify_free(struct sup_notify *n);

/* Parses $NOTIFY_SOCKET's value into addr (a struct sockaddr_un of size
 * cap): a path starting with '/', or '@' for the abstract namespace.
 * Returns the address length, or a negative UV_* error (UV_EINVAL for
 * another form, UV_ENAMETOOLONG). */
int sup_notify_addr(const char *value, void *addr, size_t cap);

/* The interval of WATCHDOG=1 pings in ms for $WATCHDOG_USEC and
 * $WATCHDOG_PID (either may be NULL): half the timeout, at least 1; 0 when
 * the watchdog is off (unset, not a number, 0, or another pid's). */
uint64_t sup_notify_watchdog_ms(const char *usec, const char *pid, long self);

#endif
