/* gw_reply — responses the gateway writes itself (errors, health). */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "ipc_text.h"

const char *gw_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 413: return "Content Too Large";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

void gw_reply(struct gw_conn *c, int status, const char *body, size_t len, const char *extra) {
  gw_reply_type(c, status, "application/json", body, len, extra);
}

void gw_reply_type(struct gw_conn *c, int status, const char *ctype, const char *body,
                   size_t len, const char *extra) {
  char head[512];
  int n = snprintf(head, sizeof(head),
                   "HTTP/1.1 %d %s\r\ncontent-type: %s\r\n"
                   "content-length: %zu\r\nx-request-id: %s\r\n%s%s\r\n",
                   status, gw_reason(status), ctype, len, c->reqid, extra ? extra : "",
                   c->keepalive ? "" : "connection: close\r\n");
  uv_buf_t b[2] = {uv_buf_init(head, (unsigned)n), uv_buf_init((char *)body, (unsigned)len)};
  c->status = status;
  c->head_sent = 1;
  gw_conn_writev(c, b, c->is_head ? 1 : 2);
}

void gw_reply_error(struct gw_conn *c, int status, const char *msg, const char *extra) {
  struct ipc_buf *b = &c->srv->scratch;
  if (c->reqid[0] == '\0')
    snprintf(c->reqid, sizeof(c->reqid), "muster-%llx",
             (unsigned long long)(c->srv->reqid_base + ++c->srv->next_id));
  ipc_buf_reset(b);
  ipc_buf_adds(b, "{\"error\":");
  ipc_json_str(b, msg, strlen(msg));
  ipc_buf_adds(b, ",\"status\":");
  ipc_buf_addi(b, status);
  ipc_buf_adds(b, ",\"request_id\":");
  ipc_json_str(b, c->reqid, strlen(c->reqid));
  ipc_buf_adds(b, "}\n");
  gw_reply(c, status, b->oom ? "{}\n" : b->data, b->oom ? 3 : b->len, extra);
}
