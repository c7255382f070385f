/* cl_wire — what hosts say to each other through Redis (SPEC §10), as
 * bytes: a publication's record, and the message a room's channel
 * carries (the record with the position Redis gave it). Pure: no I/O,
 * no allocation but the output buffer.
 *
 *   record  = "M1 " ORIGIN " " OSEQ " " KIND " " LEN ":" EVENT " " LEN ":" EXCEPT "\n" BODY
 *   posted  = EPOCH " " OFFSET " " record
 *
 * ORIGIN is the publishing host's id and run ("web-1/18c3f0a2b4"), OSEQ
 * that run's count of publications (1, 2, ...): together they let every
 * host drop a publication it has delivered already, however often Redis
 * carried it. KIND is t (the payload is a JSON string; BODY is its
 * text), j (any other JSON value; BODY is its serialisation) or b
 * (binary; BODY is the bytes). EVENT (an SSE event name) and EXCEPT (a
 * connection left out) are length-prefixed, 0 for none; BODY is the rest.
 * EPOCH is 1..23 of [0-9a-z], OFFSET a decimal >= 1. */
#ifndef MUSTER_CL_WIRE_H
#define MUSTER_CL_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct ipc_buf;

#define CL_ORIGIN_MAX 96 /* host id (64) + "/" + a run's hex */
#define CL_EPOCH_MAX 23  /* as an rt_room epoch */

/* A publication between hosts. The pointers are into the parsed bytes. */
struct cl_record {
  const char *origin;
  size_t origin_len;
  uint64_t oseq;
  char kind;         /* 't', 'j' or 'b' */
  const char *event; /* NULL when none */
  size_t event_len;
  const char *except; /* NULL when none */
  size_t except_len;
  const char *body;
  size_t body_len;
};

/* A room channel's message. */
struct cl_posted {
  char epoch[CL_EPOCH_MAX + 1];
  uint64_t offset;
  struct cl_record rec;
};

/* Appends r's record to b. */
void cl_wire_record(struct ipc_buf *b, const struct cl_record *r);

/* Parses a record. Returns 0, or UV_EINVAL with a reason in err. */
int cl_wire_parse_record(const char *p, size_t n, struct cl_record *r, char *err, size_t errlen);

/* Parses a posted message. Returns 0, or UV_EINVAL with a reason in err. */
int cl_wire_parse_posted(const char *p, size_t n, struct cl_posted *m, char *err, size_t errlen);

/* 1 when s (n bytes) is a valid epoch. */
int cl_wire_epoch_ok(const char *s, size_t n);

/* The host a connection id names ("HOST:..."), or NULL when it names
 * none; *len gets its length. */
const char *cl_wire_conn_host(const char *conn, size_t *len);

#endif
