/* sup_nofile — muster's file descriptor limit (RLIMIT_NOFILE).
 *
 * A login session's soft limit is usually 1024, far below what a gateway
 * allowed gateway.max_connections (10,000 by default) clients needs; past
 * it libuv accepts and closes new connections unanswered, with nothing in
 * the log. So muster raises its soft limit to the hard one at start, as
 * supervisord (`minfds`) and Go programs do, and says so when even the
 * hard limit is below what its config may need. The instances inherit the
 * raised limit, as they inherit systemd's LimitNOFILE. */
#ifndef MUSTER_SUP_NOFILE_H
#define MUSTER_SUP_NOFILE_H

#include <stdint.h>

#include "cfg.h"

#define SUP_NOFILE_CAP (1u << 20) /* the soft limit muster asks for at most */
#define SUP_NOFILE_BASE 64        /* descriptors of its own: listeners, logs, control */

/* The descriptors cfg may need at once: each gateway and TCP route
 * connection, three per instance (its channel and two output pipes), and
 * SUP_NOFILE_BASE. Pure. */
uint64_t sup_nofile_need(const struct cfg *cfg);

/* The soft limit new (what muster asks for, given soft and hard): the
 * hard limit, at most SUP_NOFILE_CAP, never below soft. Pure. */
uint64_t sup_nofile_target(uint64_t soft, uint64_t hard);

/* Raises the soft limit (sup_nofile_target) and warns when it stays below
 * sup_nofile_need(cfg). */
void sup_nofile_raise(const struct cfg *cfg);

#endif
