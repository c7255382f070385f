/* Unit tests for sup_listens: the /proc/net/tcp and children lines it
 * parses, and the ports a process listens on (this one's). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sup_listens.h"
#include "test.h"

TEST(tcp_lines) {
  int port = 0;
  unsigned long ino = 0;
  CHECK(sup_listens_parse_line("   0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 "
                               "00:00000000 00000000  1000        0 123456 1 0000 100 0 0 10 0\n",
                               &port, &ino) == 1);
  CHECK(port == 3000 && ino == 123456);
  /* IPv6 (tcp6): a 32-digit address */
  CHECK(sup_listens_parse_line("   1: 00000000000000000000000001000000:1F90 "
                               "00000000000000000000000000000000:0000 0A 00000000:00000000 "
                               "00:00000000 00000000     0        0 77 1\n",
                               &port, &ino) == 1);
  CHECK(port == 8080 && ino == 77);
  /* the header, an established connection, a socket without inode, junk */
  CHECK(!sup_listens_parse_line("  sl  local_address rem_address   st tx_queue rx_queue tr "
                                "tm->when retrnsmt   uid  timeout inode\n",
                                &port, &ino));
  CHECK(!sup_listens_parse_line("   2: 0100007F:D431 0100007F:0BB8 01 00000000:00000000 "
                                "00:00000000 00000000     0        0 99 1\n",
                                &port, &ino));
  CHECK(!sup_listens_parse_line("   3: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 "
                                "00:00000000 00000000     0        0 0 1\n",
                                &port, &ino));
  CHECK(
      !sup_listens_parse_line("   4: 0100007F:1FFFF 00000000:0000 0A a b c d e 5\n", &port, &ino));
  CHECK(!sup_listens_parse_line("   5: 0100007F 00000000:0000 0A a b c d e 5\n", &port, &ino));
  CHECK(!sup_listens_parse_line("   6: 0100007F:0BB8 00000000:0000 0A a b c d e "
                                "99999999999999999999999\n",
                                &port, &ino));
  CHECK(!sup_listens_parse_line("", &port, &ino));
}

TEST(pid_lines) {
  pid_t p[4];
  CHECK(sup_listens_parse_pids("12 345 6789 ", 12, p, 4) == 3);
  CHECK(p[0] == 12 && p[1] == 345 && p[2] == 6789);
  CHECK(sup_listens_parse_pids("1 2 3 4 5 6", 11, p, 4) == 4 && p[3] == 4); /* at most max */
  CHECK(sup_listens_parse_pids("x 0 -3 99999999999 7\n", 21, p, 4) == 1 && p[0] == 7);
  CHECK(sup_listens_parse_pids("", 0, p, 4) == 0);
  CHECK(sup_listens_parse_pids("12 34", 3, p, 4) == 1 && p[0] == 12); /* len bounds it */
}

TEST(group_ports) {
  /* A socket this process listens on is found, once, among whatever
   * else it and its children listen on; no process, no port. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s, 1) == 0);
  CHECK(getsockname(s, (struct sockaddr *)&sa, &len) == 0);
  int want = ntohs(sa.sin_port), ports[64], found = 0;
  size_t n = sup_listens_of(getpid(), ports, 64);
  for (size_t i = 0; i < n; i++) {
    found += ports[i] == want;
    CHECK(i == 0 || ports[i - 1] < ports[i]); /* ascending, each once */
  }
  CHECK(found == 1);
  close(s);
  n = sup_listens_of(getpid(), ports, 64);
  for (size_t i = 0; i < n; i++)
    CHECK(ports[i] != want);
  CHECK(sup_listens_of(0, ports, 64) == 0);
}

int main(void) {
  RUN(tcp_lines);
  RUN(pid_lines);
  RUN(group_ports);
  return test_summary();
}
