/* Unit tests for sup_health's status line reader (the http check). */
#include "sup_health.h"
#include "test.h"

#include <string.h>

static int status_of(const char *s, int *status) {
  *status = -1;
  return sup_health_status_line(s, strlen(s), status);
}

TEST(complete_lines) {
  int st;
  CHECK_INT(status_of("HTTP/1.1 200 OK\r\n", &st), 1);
  CHECK_INT(st, 200);
  CHECK_INT(status_of("HTTP/1.0 503 Service Unavailable\r\ncontent-length: 0\r\n", &st), 1);
  CHECK_INT(st, 503);
  CHECK_INT(status_of("HTTP/1.1 204\r\n", &st), 1); /* no reason phrase */
  CHECK_INT(st, 204);
  CHECK_INT(status_of("HTTP/1.1 302 Found\n", &st), 1); /* a bare LF */
  CHECK_INT(st, 302);
}

TEST(more_bytes_needed) {
  int st;
  CHECK_INT(status_of("", &st), 0);
  CHECK_INT(status_of("HTT", &st), 0);
  CHECK_INT(status_of("HTTP/1.1 200 O", &st), 0);
  CHECK_INT(st, -1);
}

TEST(not_http) {
  int st;
  CHECK_INT(status_of("SSH-2.0-OpenSSH\r\n", &st), -1);
  CHECK_INT(status_of("HTTP/2 200\r\n", &st), -1);
  CHECK_INT(status_of("HTTP/1.1 20 OK\r\n", &st), -1);
  CHECK_INT(status_of("HTTP/1.1 2000 OK\r\n", &st), -1);
  CHECK_INT(status_of("HTTP/1.1 abc OK\r\n", &st), -1);
  CHECK_INT(status_of("HTTP/1.1\r\n", &st), -1);
  char junk[300];
  memset(junk, 'x', sizeof(junk));
  memcpy(junk, "HTTP/1.1 200 ", 13);
  CHECK_INT(sup_health_status_line(junk, sizeof(junk), &st), -1); /* no end of line in 256 */
}

int main(void) {
  RUN(complete_lines);
  RUN(more_bytes_needed);
  RUN(not_http);
  return test_summary();
}
