/* gw_balance — which instance of a service gets a request (SPEC §4): the
 * usable one with the fewest requests in flight, round-robin among ties,
 * none at max_inflight; or, for an upstream with `balance: "ip_hash"`, the
 * one the client's address hashes to. Pure: the proxy describes the instances as
 * candidates and keeps the cursor (tests/unit/test_gw_balance.c). */
#ifndef MUSTER_GW_BALANCE_H
#define MUSTER_GW_BALANCE_H

#include <stddef.h>
#include <stdint.h>

#define GW_BALANCE_NONE SIZE_MAX

/* One instance as the balancer sees it. */
struct gw_cand {
  unsigned inflight; /* requests it holds */
  int usable;        /* ready, not draining, not the one to avoid */
};

/* The index of the usable candidate with the fewest in flight below max,
 * searching from *cursor so that ties rotate (the cursor moves past the
 * one picked). GW_BALANCE_NONE when there is none; then *full is 1 when
 * some usable candidate was only at max_inflight. */
size_t gw_balance_pick(const struct gw_cand *c, size_t n, unsigned max, size_t *cursor, int *full);

/* upstream.balance "ip_hash": the usable candidate that ranks first for
 * key (rendezvous hashing of key with each candidate's index), so that one
 * key keeps its instance while that instance is usable, and the keys of an
 * instance that goes are spread over the others while the rest keep
 * theirs. When that candidate is at max, GW_BALANCE_NONE with *full set
 * (the request waits for it: a session lives there). */
size_t gw_balance_pick_hash(const struct gw_cand *c, size_t n, unsigned max, uint64_t key,
                            int *full);

/* The key of a client address (text as the connection has it). */
uint64_t gw_balance_key(const char *addr);

#endif
