/* Fuzz target: NDJSON framing and message decoding (ipc_frame, ipc_msg).
 *
 * The input is fed to the framer in pieces (split points taken from its
 * first byte); every line is parsed twice: as is (the fast path may take
 * it) and with a leading blank (always the full cJSON path). Both must
 * agree; what parsed must survive encoding and parsing again. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_frame.h"
#include "ipc_msg.h"

static char err[256];

/* Re-encodes m with the ipc_enc_* function of its type and parses it again. */
static void roundtrip(const struct ipc_msg *m) {
  struct ipc_buf b;
  struct ipc_msg r;
  char *json = NULL;
  ipc_buf_init(&b);
  switch (m->type) {
  case IPC_T_PING: ipc_enc_ping(&b, m->seq); break;
  case IPC_T_PONG: ipc_enc_pong(&b, m->seq); break;
  case IPC_T_CANCEL: ipc_enc_cancel(&b, m->id); break;
  case IPC_T_END: ipc_enc_end(&b, m->id); break;
  case IPC_T_READY: ipc_enc_ready(&b); break;
  case IPC_T_CHUNK: ipc_enc_chunk(&b, m->id, m->body, m->body_len); break;
  case IPC_T_RESPONSE:
    if (!m->json && !m->json_raw)
      ipc_enc_response(&b, m->id, m->status, NULL, 0, m->body, m->body_len, m->stream);
    break;
  default: break;
  }
  if (b.len > 0 && !b.oom) {
    int rc = ipc_msg_parse(&r, b.data, b.len - 1, err, sizeof(err));
    (void)rc;
    assert(rc == 0);
    assert(r.type == m->type && r.id == m->id && r.seq == m->seq);
    if (m->type == IPC_T_CHUNK || (m->type == IPC_T_RESPONSE && !m->stream)) {
      assert(r.body_len == m->body_len);
      assert(m->body_len == 0 || memcmp(r.body, m->body, m->body_len) == 0);
    }
    ipc_msg_free(&r);
  }
  free(json);
  ipc_buf_free(&b);
}

static int on_line(void *ctx, const char *line, size_t len) {
  struct ipc_msg a, b;
  char *slow = malloc(len + 1);
  slow[0] = ' ';
  memcpy(slow + 1, line, len);
  int ra = ipc_msg_parse(&a, line, len, err, sizeof(err));
  int rb = ipc_msg_parse(&b, slow, len + 1, err, sizeof(err));
  (void)rb;
  /* A string holding \u0000 is cut short by cJSON (full path) but refused
   * by the fast path, which then falls back: both end up equal. */
  assert(ra == rb);
  if (ra == 0) {
    assert(a.type == b.type && a.id == b.id && a.seq == b.seq && a.status == b.status);
    assert(a.stream == b.stream && a.body_len == b.body_len);
    assert(a.body_len == 0 || memcmp(a.body, b.body, a.body_len) == 0);
    if (a.json_raw) {
      cJSON *j = cJSON_ParseWithLength(a.json_raw, a.json_len);
      assert(j != NULL && b.json != NULL && cJSON_Compare(j, b.json, 1));
      cJSON_Delete(j);
    }
    roundtrip(&b);
    ipc_msg_free(&a);
    ipc_msg_free(&b);
  }
  free(slow);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ipc_frame f;
  size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
  ipc_frame_init(&f, 4096); /* small, so the too-long path is reached */
  for (size_t off = 0; off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    if (ipc_frame_feed(&f, (const char *)data + off, n, on_line, NULL) < 0)
      break;
  }
  ipc_frame_free(&f);
  return 0;
}
