/* sup_nofile — muster's file descriptor limit (RLIMIT_NOFILE).
 *
 * A login session's soft limit is usually 1024, far below what a gateway
 * allowed gateway.max_connections (10,000 by default) clients needs; past
 * it libuv accepts and closes new connections unanswered, with nothing in
 * the log. So muster raises its soft limit at start, as supervisord
 * (`minfds`) and Go programs do: to 65536 (the unit's LimitNOFILE) or what
 * its config may need if more, within the hard limit; and says so when the
 * hard limit is below that need. The instances inherit the raised limit,
 * as they inherit systemd's LimitNOFILE; it is not the hard limit itself
 * (often 524288 or more), which programs that loop over every possible
 * descriptor at start would pay for. */
#ifndef MUSTER_SUP_NOFILE_H
#define MUSTER_SUP_NOFILE_H

#include <stdint.h>

#include "cfg.h"

#define SUP_NOFILE_WANT 65536 /* the soft limit muster asks for, unless the config needs more */
#define SUP_NOFILE_BASE 64    /* descriptors of its own: listeners, logs, control */

/* The descriptors cfg may need at once: each gateway and TCP route
 * connection, three per instance (its channel and two output pipes), and
 * SUP_NOFILE_BASE. Pure. */
uint64_t sup_nofile_need(const struct cfg *cfg);

/* The soft limit muster asks for, given soft, hard and what the config
 * needs: SUP_NOFILE_WANT or need if more, within hard, never below soft.
 * Pure. */
uint64_t sup_nofile_target(uint64_t soft, uint64_t hard, uint64_t need);

/* Raises the soft limit (sup_nofile_target) and warns when it stays below
 * sup_nofile_need(cfg). */
void sup_nofile_raise(const struct cfg *cfg);

#endif
