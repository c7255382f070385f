/* rm_guard — what readmongo refuses to do.
 *
 * The namespace allow-list (READMONGO_ALLOW: "db.coll", "db.*" or "*",
 * comma-separated; default "*") and the scan of every filter, projection,
 * sort and pipeline for operators that write ($out, $merge), run
 * server-side JavaScript ($where, $function, $accumulator) or never end
 * ($changeStream), and for the collections a pipeline reads besides its
 * own ($lookup, $graphLookup, $unionWith), which must be allowed too.
 * Pure code: unit tested in tests/mongo/test_rm_guard.c. */
#ifndef MUSTER_RM_GUARD_H
#define MUSTER_RM_GUARD_H

#include <bson/bson.h>
#include <stddef.h>

#include "rm_error.h"

/* One allow-list entry. */
struct rm_allow_entry {
  char *db;   /* owned; NULL for "*" (any database but admin, local, config) */
  char *coll; /* owned; NULL for "db.*" and "*" */
};

struct rm_allow {
  struct rm_allow_entry *v; /* owned */
  size_t n, cap;
};

/* Parses spec (NULL or "" means "*"). Returns 0, or UV_EINVAL (an entry
 * that is neither "*", "db.*" nor "db.coll") or UV_ENOMEM with a message
 * in err. */
int rm_allow_parse(struct rm_allow *a, const char *spec, char *err, size_t errlen);
void rm_allow_free(struct rm_allow *a);

/* 1 when db.coll may be read. "*" never covers admin, local and config;
 * "*" and "db.*" never cover system.* collections (name them exactly). */
int rm_allow_check(const struct rm_allow *a, const char *db, const char *coll);

/* Scans doc (named `what` in messages, e.g. "filter" or "pipeline")
 * recursively. Returns 0, or UV_EINVAL with err set: 400 for a refused
 * operator, 403 for a pipeline reading a namespace of db that is not
 * allowed. The message names the operator and where it was found. */
int rm_guard_scan(const bson_t *doc, const char *what, const struct rm_allow *a, const char *db,
                  struct rm_err *err);

/* 1 when name is a valid database name (1..63 bytes, none of /\. "$). */
int rm_guard_db_name_ok(const char *name);
/* 1 when name is a valid collection name of db (no '$', namespace under
 * 256 bytes, not empty, not starting with '.'). */
int rm_guard_coll_name_ok(const char *db, const char *name);

#endif
