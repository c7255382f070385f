/* gw_reply — answers muster makes itself (errors, bodies of its own), on
 * the protocol's framing, and the reason phrases. */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "ipc_text.h"

const char *gw_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 101:
    return "Switching Protocols";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 302:
    return "Found";
  case 303:
    return "See Other";
  case 304:
    return "Not Modified";
  case 307:
    return "Temporary Redirect";
  case 308:
    return "Permanent Redirect";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 410:
    return "Gone";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
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
