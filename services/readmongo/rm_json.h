/* rm_json — JSON in and out of BSON.
 *
 * Input is MongoDB Extended JSON (canonical or relaxed, so {"$oid": ...},
 * {"$date": ...} work in filters) parsed by libbson; errors carry the
 * parser's message with its position. Output is relaxed Extended JSON
 * (bson_as_relaxed_extended_json). Pure code; output may be built on any
 * thread (it touches neither cJSON nor the channel). */
#ifndef MUSTER_RM_JSON_H
#define MUSTER_RM_JSON_H

#include <bson/bson.h>
#include <stddef.h>

#include "ipc_buf.h"
#include "rm_error.h"

enum rm_json_kind {
  RM_JSON_OBJECT = 0, /* a JSON object: filter, projection, sort */
  RM_JSON_ARRAY,      /* a JSON array: a pipeline (keys "0", "1", ... in BSON) */
};

/* Parses text[0..len) as one JSON object or array (per kind) into a new
 * document (owned by the caller). `what` names the input in messages
 * ("filter"). Returns the document, or NULL with a 400 in err. */
bson_t *rm_json_parse(const char *what, const char *text, size_t len, enum rm_json_kind kind,
                      struct rm_err *err);

/* Appends doc as relaxed Extended JSON to b. Returns 0, UV_EINVAL if the
 * document cannot be shown as JSON (a string that is not UTF-8), or
 * UV_ENOMEM (b->oom). */
int rm_json_append(struct ipc_buf *b, const bson_t *doc);

/* The length of the longest prefix of p[0..len), at most max bytes, that
 * does not end inside a UTF-8 sequence (so that cut pieces stay text). */
size_t rm_json_utf8_cut(const char *p, size_t len, size_t max);

#endif
