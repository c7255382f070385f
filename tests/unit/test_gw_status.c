/* Unit tests for the status page's pure parts (gw_status.c, included to
 * reach its statics): HTML escaping, the text of values (which the page's
 * script writes the same way), and the embedded template's markers. */
#include "../../gateway/gw_status.c"

#include "test.h"

/* s escaped for HTML, as a NUL-terminated string in b. */
static const char *esc(struct ipc_buf *b, const char *s, size_t n) {
  ipc_buf_reset(b);
  gw_html_str(b, s, n);
  ipc_buf_addc(b, '\0');
  return b->data;
}

TEST(html_escape) {
  struct ipc_buf b;
  ipc_buf_init(&b);
  CHECK_STR(esc(&b, "", 0), "");
  CHECK_STR(esc(&b, "dummy-1.a_b", 11), "dummy-1.a_b");
  CHECK_STR(esc(&b, "/x<b>&\"'y", 9), "/x&lt;b&gt;&amp;&quot;&#39;y");
  CHECK_STR(esc(&b, "<<>>", 4), "&lt;&lt;&gt;&gt;");
  CHECK_STR(esc(&b, "&amp;", 5), "&amp;amp;"); /* text, never markup */
  CHECK_STR(esc(&b, "a<b", 2), "a&lt;");       /* n bytes, not up to the NUL */
  CHECK_STR(esc(&b, "\xe2\x80\x93 ok", 6), "\xe2\x80\x93 ok");
  ipc_buf_free(&b);
}

TEST(value_text) {
  char t[64];
  fmt_uptime(t, sizeof(t), 0);
  CHECK_STR(t, DASH);
  fmt_uptime(t, sizeof(t), 999);
  CHECK_STR(t, "0s");
  fmt_uptime(t, sizeof(t), 59999);
  CHECK_STR(t, "59s");
  fmt_uptime(t, sizeof(t), 60000);
  CHECK_STR(t, "1m 0s");
  fmt_uptime(t, sizeof(t), 3599999);
  CHECK_STR(t, "59m 59s");
  fmt_uptime(t, sizeof(t), 3600000);
  CHECK_STR(t, "1h 0m");
  fmt_uptime(t, sizeof(t), 90061000);
  CHECK_STR(t, "1d 1h");
  fmt_bytes(t, sizeof(t), 0);
  CHECK_STR(t, DASH);
  fmt_bytes(t, sizeof(t), 512);
  CHECK_STR(t, "512 B");
  fmt_bytes(t, sizeof(t), 1536);
  CHECK_STR(t, "1.5 KiB");
  fmt_bytes(t, sizeof(t), 1048576);
  CHECK_STR(t, "1.0 MiB");
  fmt_bytes(t, sizeof(t), 3ULL << 30);
  CHECK_STR(t, "3.0 GiB");
  fmt_exit(t, sizeof(t), -1, 0);
  CHECK_STR(t, DASH);
  fmt_exit(t, sizeof(t), -1, 9);
  CHECK_STR(t, "SIGKILL");
  fmt_exit(t, sizeof(t), -1, 5);
  CHECK_STR(t, "signal 5");
  fmt_exit(t, sizeof(t), -1, 34);
  CHECK_STR(t, "signal 34");
  fmt_exit(t, sizeof(t), 0, 0);
  CHECK_STR(t, "code 0");
  fmt_exit(t, sizeof(t), 3, 0);
  CHECK_STR(t, "code 3");
  fmt_seconds(t, sizeof(t), 0.00025);
  CHECK_STR(t, "0.2 ms");
  fmt_seconds(t, sizeof(t), 2.5);
  CHECK_STR(t, "2.50 s");
}

/* Occurrences of s in the embedded page. */
static int count(const char *s) {
  int n = 0;
  for (const char *p = gw_status_page; (p = strstr(p, s)) != NULL; p++)
    n++;
  return n;
}

TEST(template) {
  CHECK_INT(strlen(gw_status_page), gw_status_page_len);
  CHECK_INT(count("<!--muster:"), 4);
  CHECK_INT(count("<!--muster:services-->"), 1);
  CHECK_INT(count("<!--muster:summary-->"), 1);
  CHECK_INT(count("<!--muster:version-->"), 1);
  CHECK_INT(count("<!--muster:time-->"), 1);
  CHECK_INT(count("//"), 0); /* no URL of another origin, no // comment either */
  CHECK_INT(count("http"), 0);
}

int main(void) {
  RUN(html_escape);
  RUN(value_text);
  RUN(template);
  return test_summary();
}
