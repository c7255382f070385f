/* Unit tests for sup_nofile's pure parts: what a config may need, and the
 * soft limit muster asks for. */
#include <stdint.h>
#include <string.h>

#include "sup_nofile.h"
#include "test.h"

TEST(target) {
  CHECK(sup_nofile_target(1024, 524288, 10067) == 65536);       /* a login session */
  CHECK(sup_nofile_target(1024, UINT64_MAX, 10067) == 65536);   /* unlimited */
  CHECK(sup_nofile_target(1024, 524288, 200000) == 200000);     /* a config that needs more */
  CHECK(sup_nofile_target(1024, 100000, 200000) == 100000);     /* within the hard limit */
  CHECK(sup_nofile_target(1024, 4096, 10067) == 4096);          /* a low hard limit */
  CHECK(sup_nofile_target(65536, 65536, 10067) == 65536);       /* systemd's LimitNOFILE */
  CHECK(sup_nofile_target(4096, 2048, 10067) == 4096);          /* never lowered */
  CHECK(sup_nofile_target(2000000, 4000000, 10067) == 2000000); /* higher already */
}

TEST(need) {
  struct cfg_service svcs[2];
  struct cfg_tcp_route tcp[1];
  struct cfg c;
  memset(&c, 0, sizeof(c));
  memset(svcs, 0, sizeof(svcs));
  memset(tcp, 0, sizeof(tcp));
  c.gateway.max_connections = 10000;
  CHECK(sup_nofile_need(&c) == 10000 + SUP_NOFILE_BASE);
  svcs[0].instances = 2;
  svcs[1].instances = 1000;
  c.services = svcs;
  c.nservices = 2;
  tcp[0].max_connections = 500;
  c.tcp = tcp;
  c.ntcp = 1;
  CHECK(sup_nofile_need(&c) == 10000 + 500 + 3 * 1002 + SUP_NOFILE_BASE);
}

int main(void) {
  RUN(target);
  RUN(need);
  return test_summary();
}
