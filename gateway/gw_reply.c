/* gw_reply — answers muster makes itself (errors, bodies of its own), on
 * the protocol's framing, and the reason phrases. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "ipc_text.h"

/* The IANA HTTP status code registry (RFC 9110 §15 and the codes other
 * RFCs add), sorted by code. */
static const struct {
  short code;
  const char *text;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {208, "Already Reported"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {511, "Network Authentication Required"},
};

const char *gw_reason(int status) {
  size_t lo = 0, hi = sizeof(reasons) / sizeof(reasons[0]);
  while (lo < hi) { /* binary search */
    size_t mid = (lo + hi) / 2;
    if (reasons[mid].code == status)
      return reasons[mid].text;
    if (reasons[mid].code < status)
      lo = mid + 1;
    else
      hi = mid;
  }
  return ""; /* an unregistered code: the phrase is optional (RFC 9112 §4), as nginx sends it */
}

const struct ipc_header gw_retry_after = {"retry-after", 11, "1", 1};

void gw_reply(struct gw_req *req, int status, const char *ctype, const char *body, size_t len,
              const struct ipc_header *extra, size_t nextra) {
  struct ipc_header h[4];
  size_t n = 0;
  h[n++] = (struct ipc_header){"content-type", 12, ctype, strlen(ctype)};
  for (size_t i = 0; i < nextra && n < sizeof(h) / sizeof(h[0]); i++)
    h[n++] = extra[i];
  gw_req_respond(req, status, h, n, body, len);
}

void gw_reply_error(struct gw_req *req, int status, const char *msg,
                    const struct ipc_header *extra) {
  struct ipc_buf *b = &req->srv->scratch;
  if (req->reqid[0] == '\0') /* refused before it was complete */
    gw_req_new_id(req);
  ipc_buf_reset(b);
  ipc_buf_adds(b, "{\"error\":");
  ipc_json_str(b, msg, strlen(msg));
  ipc_buf_adds(b, ",\"status\":");
  ipc_buf_addi(b, status);
  ipc_buf_adds(b, ",\"request_id\":");
  ipc_json_str(b, req->reqid, strlen(req->reqid));
  ipc_buf_adds(b, "}\n");
  gw_reply(req, status, "application/json", b->oom ? "{}\n" : b->data, b->oom ? 3 : b->len, extra,
           extra ? 1 : 0);
}
