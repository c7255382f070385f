/* cl_script — the Lua scripts that keep a room's history and order in
 * Redis (SPEC §10, the way Centrifugo does it): a publication is
 * numbered, kept and published in one step, so every host sees the same
 * positions. */
#include <stdio.h>
#include <string.h>

#include "cl_int.h"
#include "util_sha1.h"

/* KEYS: the room's position hash, its stream, its channel.
 * ARGV: an epoch for a room Redis does not know, the record, the stream's
 * MAXLEN, the stream's ttl (ms), now (ms), the hash's ttl (ms).
 * A new epoch starts the stream over (its ids are the offsets). Returns
 * the offset. */
const char cl_script_publish[] =
    "local k, s = KEYS[1], KEYS[2]\n"
    "if redis.call('HSETNX', k, 'e', ARGV[1]) == 1 then redis.call('DEL', s) end\n"
    "local e = redis.call('HGET', k, 'e')\n"
    "local o = redis.call('HINCRBY', k, 'o', 1)\n"
    "redis.call('PEXPIRE', k, ARGV[6])\n"
    "redis.call('XADD', s, 'MAXLEN', ARGV[3], o .. '-0', 't', ARGV[5], 'r', ARGV[2])\n"
    "redis.call('PEXPIRE', s, ARGV[4])\n"
    "redis.call('PUBLISH', KEYS[3], e .. ' ' .. o .. ' ' .. ARGV[2])\n"
    "return o\n";

/* KEYS: the position hash, the stream. ARGV: the epoch the reader knows
 * ("" none), the first offset it wants, at most how many (0: only the
 * position). Another epoch is read from its start. Returns {epoch ("" when
 * Redis knows no such room), last offset, {{id, {field, value, ...}}, ...}}. */
const char cl_script_read[] =
    "local e = redis.call('HGET', KEYS[1], 'e')\n"
    "if not e then return {'', 0, {}} end\n"
    "local o = tonumber(redis.call('HGET', KEYS[1], 'o') or '0')\n"
    "local from = ARGV[2]\n"
    "if e ~= ARGV[1] then from = '1' end\n"
    "local r = {}\n"
    "if tonumber(ARGV[3]) > 0 then\n"
    "  r = redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', ARGV[3])\n"
    "end\n"
    "return {e, o, r}\n";

void cl_script_sha(const char *script, char out[41]) {
  unsigned char md[UTIL_SHA1_LEN];
  if (util_sha1(script, strlen(script), NULL, 0, md) != 0) {
    out[0] = '\0'; /* EVALSHA of "" fails: cl_redis falls back to EVAL */
    return;
  }
  for (int i = 0; i < UTIL_SHA1_LEN; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int cl_script_read_room(struct cl_node *cl, const char *room, const char *epoch, uint64_t from,
                        uint64_t count, cl_redis_fn *fn, void *privdata) {
  struct ipc_buf k1, k2;
  char f[24], n[24];
  ipc_buf_init(&k1);
  ipc_buf_init(&k2);
  cl_key(&k1, "pos", room);
  cl_key(&k2, "hist", room);
  snprintf(f, sizeof(f), "%llu", (unsigned long long)from);
  snprintf(n, sizeof(n), "%llu", (unsigned long long)count);
  const char *argv[] = {"EVAL", cl_script_read, "2", k1.data, k2.data, epoch, f, n};
  size_t lens[8];
  for (int i = 0; i < 8; i++)
    lens[i] = argv[i] ? strlen(argv[i]) : 0;
  int rc = k1.oom || k2.oom ? UV_ENOMEM : cl_redis_command(&cl->cmd, fn, privdata, 8, argv, lens);
  ipc_buf_free(&k1);
  ipc_buf_free(&k2);
  return rc;
}
