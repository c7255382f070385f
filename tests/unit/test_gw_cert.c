/* Unit tests for gw_cert's pure part: RFC 6125 name matching (wildcards
 * only as the whole left-most label) and the SNI choice (the first match,
 * else the first certificate). */
#include "gw_cert.h"
#include "test.h"

TEST(exact_names) {
  CHECK(gw_cert_name_match("example.com", "example.com"));
  CHECK(gw_cert_name_match("example.com", "EXAMPLE.com"));
  CHECK(gw_cert_name_match("Example.COM", "example.com"));
  CHECK(gw_cert_name_match("example.com", "example.com.")); /* absolute form */
  CHECK(!gw_cert_name_match("example.com", "www.example.com"));
  CHECK(!gw_cert_name_match("example.com", "example.co"));
  CHECK(!gw_cert_name_match("example.com", "example.com.."));
  CHECK(!gw_cert_name_match("example.com", ""));
  CHECK(!gw_cert_name_match("", "example.com"));
  CHECK(!gw_cert_name_match("example.com", ".example.com"));
  CHECK(!gw_cert_name_match("a..b", "a..b")); /* an empty label is no name */
}

TEST(wildcard_left_most_label) {
  CHECK(gw_cert_name_match("*.example.com", "www.example.com"));
  CHECK(gw_cert_name_match("*.example.com", "API.Example.Com"));
  CHECK(gw_cert_name_match("*.example.com", "x.example.com."));
  CHECK(!gw_cert_name_match("*.example.com", "example.com"));     /* one label, not none */
  CHECK(!gw_cert_name_match("*.example.com", "a.b.example.com")); /* nor two */
  CHECK(!gw_cert_name_match("*.example.com", ".example.com"));
  CHECK(!gw_cert_name_match("*.example.com", "wwwexample.com"));
  CHECK(!gw_cert_name_match("*.example.com", "www.example.org"));
}

TEST(wildcard_forms_refused) {
  CHECK(!gw_cert_name_match("*.com", "example.com")); /* two labels after it */
  CHECK(!gw_cert_name_match("*", "example"));
  CHECK(!gw_cert_name_match("*.", "a."));
  CHECK(!gw_cert_name_match("w*.example.com", "www.example.com")); /* part of a label */
  CHECK(!gw_cert_name_match("*w.example.com", "ww.example.com"));
  CHECK(!gw_cert_name_match("www.*.com", "www.example.com")); /* not left-most */
  CHECK(!gw_cert_name_match("*.*.example.com", "a.b.example.com"));
  CHECK(!gw_cert_name_match("**.example.com", "a.example.com"));
  CHECK(!gw_cert_name_match("*.example.com", "*.example.com")); /* a client's '*' is no name */
}

TEST(pick_first_match_else_first) {
  char *a[] = {"a.test", "www.a.test"}, *b[] = {"*.b.test"}, *c[] = {"x.b.test"};
  struct gw_cert_names na = {a, 2}, nb = {b, 1}, nc = {c, 1};
  const struct gw_cert_names *v[] = {&na, &nb, &nc};
  CHECK_INT(gw_cert_pick(v, 3, "a.test"), 0);
  CHECK_INT(gw_cert_pick(v, 3, "www.a.test"), 0);
  CHECK_INT(gw_cert_pick(v, 3, "q.b.test"), 1);
  CHECK_INT(gw_cert_pick(v, 3, "x.b.test"), 1); /* the wildcard comes first */
  CHECK_INT(gw_cert_pick(v, 3, "unknown.test"), 0);
  CHECK_INT(gw_cert_pick(v, 3, NULL), 0);
  CHECK_INT(gw_cert_pick(v, 3, ""), 0);
  const struct gw_cert_names *w[] = {&nc, &na};
  CHECK_INT(gw_cert_pick(w, 2, "x.b.test"), 0);
  CHECK_INT(gw_cert_pick(w, 2, "A.TEST"), 1);
}

int main(void) {
  RUN(exact_names);
  RUN(wildcard_left_most_label);
  RUN(wildcard_forms_refused);
  RUN(pick_first_match_else_first);
  return test_summary();
}
