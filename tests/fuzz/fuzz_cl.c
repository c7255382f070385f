/* fuzz_cl — what a host reads from Redis (SPEC §10): RESP replies through
 * hiredis's reader as muster bounds it (cl_reader), the read script's
 * reply and its stream entries (cl_read_reply, cl_entry_of), and the
 * records and posted messages other hosts wrote (cl_wire).
 *
 * The first byte picks the mode:
 * - even: the rest is a posted message, then a record (cl_wire). A
 *   parsed one is written again with cl_wire_record and parsed back: the
 *   same fields (the oracle: what a host writes, every host reads alike);
 *   an epoch is valid, an offset >= 1, a kind one of t, j, b.
 * - odd: the rest is RESP, fed to a cl_reader in pieces (sizes from a hash
 *   of the input); every reply goes through cl_read_reply, and each stream
 *   entry through cl_entry_of and the record parser. An aggregate over
 *   CL_REDIS_MAX_ELEMENTS is the reader's error, never an allocation of
 *   that size. Nothing crashes, leaks or reads out of bounds. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "cl_int.h"
#include "cl_redis.h"
#include "cl_wire.h"
#include "fuzz.h"
#include "ipc_buf.h"

static int same(const char *a, size_t an, const char *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* r written and read back gives r. */
static void round_trip(const struct cl_record *r) {
  struct ipc_buf b;
  struct cl_record again;
  char err[96];
  FUZZ_CHECK(r->kind == 't' || r->kind == 'j' || r->kind == 'b', "kind %c", r->kind);
  ipc_buf_init(&b);
  cl_wire_record(&b, r);
  FUZZ_CHECK(!b.oom, "out of memory");
  int rc = cl_wire_parse_record(b.data, b.len, &again, err, sizeof(err));
  FUZZ_CHECK(rc == 0, "a record written does not parse: %s", err);
  FUZZ_CHECK(same(again.origin, again.origin_len, r->origin, r->origin_len), "origin");
  FUZZ_CHECK(again.oseq == r->oseq && again.kind == r->kind, "oseq or kind");
  FUZZ_CHECK((again.event == NULL) == (r->event == NULL) &&
                 same(again.event, again.event_len, r->event, r->event_len),
             "event");
  FUZZ_CHECK((again.except == NULL) == (r->except == NULL) &&
                 same(again.except, again.except_len, r->except, r->except_len),
             "except");
  FUZZ_CHECK(same(again.body, again.body_len, r->body, r->body_len), "body");
  ipc_buf_free(&b);
}

static void wire(const char *p, size_t n) {
  struct cl_posted m;
  struct cl_record r;
  char err[96];
  if (cl_wire_parse_posted(p, n, &m, err, sizeof(err)) == 0) {
    FUZZ_CHECK(cl_wire_epoch_ok(m.epoch, strlen(m.epoch)) && m.offset >= 1, "position");
    round_trip(&m.rec);
  } else {
    FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
  }
  if (cl_wire_parse_record(p, n, &r, err, sizeof(err)) == 0)
    round_trip(&r);
  else
    FUZZ_CHECK(err[0] != '\0', "a refusal without a reason");
}

/* One reply as a read script's answer, and as a stream entry. */
static void reply(const redisReply *rp) {
  const char *epoch, *rec;
  const redisReply *entries;
  uint64_t last, off, at;
  size_t len;
  struct cl_record r;
  char err[96];
  if (cl_read_reply(rp, &epoch, &last, &entries) == 0) {
    FUZZ_CHECK(entries->type == REDIS_REPLY_ARRAY, "entries");
    FUZZ_CHECK(epoch[0] == '\0' || cl_wire_epoch_ok(epoch, strlen(epoch)), "epoch");
    for (size_t i = 0; i < entries->elements; i++)
      if (cl_entry_of(entries->element[i], &off, &at, &rec, &len) == 0 &&
          cl_wire_parse_record(rec, len, &r, err, sizeof(err)) == 0)
        round_trip(&r);
  }
  if (cl_entry_of(rp, &off, &at, &rec, &len) == 0)
    FUZZ_CHECK(off >= 1 && rec != NULL, "an entry without an offset or record");
}

static void resp(const char *p, size_t n, uint32_t h) {
  struct cl_reader rd;
  FUZZ_CHECK(cl_reader_init(&rd) == 0, "out of memory");
  size_t at = 0;
  int ok = 1;
  while (ok && at < n) {
    size_t piece = 1 + (h % 61);
    h = h * 1103515245u + 12345u;
    if (piece > n - at)
      piece = n - at;
    FUZZ_CHECK(redisReaderFeed(rd.r, p + at, piece) == REDIS_OK, "feed");
    at += piece;
    for (;;) {
      void *rp = NULL;
      if (redisReaderGetReply(rd.r, &rp) != REDIS_OK) {
        FUZZ_CHECK(rd.r->errstr[0] != '\0', "a reader error without a reason");
        ok = 0;
        break;
      }
      if (rp == NULL)
        break;
      reply(rp);
      freeReplyObject(rp);
    }
  }
  cl_reader_free(&rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const char *p = (const char *)data + 1;
  if (data[0] & 1)
    resp(p, size - 1, fuzz_hash(data, size));
  else
    wire(p, size - 1);
  return 0;
}
