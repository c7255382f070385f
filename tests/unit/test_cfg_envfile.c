/* Unit tests for cfg_envfile: systemd's EnvironmentFile= syntax (comments,
 * quotes, escapes, continuations, blanks), what muster refuses and on
 * which line, and reading a file. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cfg.h"
#include "test.h"

/* Parses text; returns the value of name, or "(unset)". The result
 * stays valid until the next call. */
static const char *get(const char *text, const char *name) {
  static struct cfg_env_var *v;
  static size_t n;
  static char value[256];
  char err[200];
  int line;
  cfg_env_vars_free(v, n);
  v = NULL;
  n = 0;
  if (cfg_envfile_parse(text, strlen(text), &v, &n, &line, err, sizeof(err)) != 0) {
    snprintf(value, sizeof(value), "(error line %d: %s)", line, err);
    return value;
  }
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i].name, name) == 0)
      return v[i].value;
  return "(unset)";
}

/* Parses text expecting an error on line want_line containing want. */
static int refused(const char *text, int want_line, const char *want) {
  struct cfg_env_var *v = NULL;
  size_t n = 0;
  char err[200] = "";
  int line = 0;
  int rc = cfg_envfile_parse(text, strlen(text), &v, &n, &line, err, sizeof(err));
  cfg_env_vars_free(v, n);
  if (rc == 0 || line != want_line || strstr(err, want) == NULL) {
    printf("  for %s: rc %d line %d err \"%s\", want line %d \"%s\"\n", text, rc, line, err,
           want_line, want);
    return 0;
  }
  return 1;
}

TEST(plain_lines_comments_and_blanks) {
  const char *t = "# a comment\n"
                  "; another\n"
                  "\n"
                  "   \t\n"
                  "A=1\n"
                  "  B  =  two words  \n"
                  "C=\n"
                  "D=x # not a comment\n"
                  "E=a=b\n";
  CHECK_STR(get(t, "A"), "1");
  CHECK_STR(get(t, "B"), "two words");
  CHECK_STR(get(t, "C"), "");
  CHECK_STR(get(t, "D"), "x # not a comment");
  CHECK_STR(get(t, "E"), "a=b");
  CHECK_STR(get("A=1", "A"), "1"); /* no final newline */
  CHECK_STR(get("A=1\r\nB=2\r\n", "A"), "1");
  CHECK_STR(get("A=1\r\nB=2\r\n", "B"), "2");
}

TEST(single_quotes_keep_everything) {
  CHECK_STR(get("A='  x  '\n", "A"), "  x  ");
  CHECK_STR(get("A='a\\nb $X \"q\"'\n", "A"), "a\\nb $X \"q\"");
  CHECK_STR(get("A='line one\nline two'\n", "A"), "line one\nline two");
  CHECK_STR(get("A=''\n", "A"), "");
}

TEST(double_quotes_and_their_escapes) {
  CHECK_STR(get("A=\"say \\\"hi\\\"\"\n", "A"), "say \"hi\"");
  CHECK_STR(get("A=\"a\\\\b\"\n", "A"), "a\\b");
  CHECK_STR(get("A=\"\\$HOME \\`x\\`\"\n", "A"), "$HOME `x`");
  CHECK_STR(get("A=\"\\n stays\"\n", "A"), "\\n stays"); /* not an escape: kept */
  CHECK_STR(get("A=\"one \\\ntwo\"\n", "A"), "one two"); /* continuation */
  CHECK_STR(get("A=\"multi\nline\"\n", "A"), "multi\nline");
  CHECK_STR(get("A=\" padded \"   \n", "A"), " padded ");
}

TEST(quotes_open_only_at_the_start_and_join) {
  CHECK_STR(get("A=\"x\"y\n", "A"), "xy");
  CHECK_STR(get("A=\"x\" 'y'\n", "A"), "xy");
  CHECK_STR(get("A=x\"y\"\n", "A"), "x\"y\"");
  CHECK_STR(get("A=it's\n", "A"), "it's");
}

TEST(unquoted_backslashes) {
  CHECK_STR(get("A=a\\ b\n", "A"), "a b");
  CHECK_STR(get("A=a\\\\b\n", "A"), "a\\b");
  CHECK_STR(get("A=one \\\ntwo\nB=3\n", "A"), "one two");
  CHECK_STR(get("A=one \\\ntwo\nB=3\n", "B"), "3");
  CHECK_STR(get("A=x\\ \n", "A"), "x "); /* an escaped blank is not trimmed */
}

TEST(a_later_name_wins) {
  CHECK_STR(get("A=1\nB=2\nA=3\n", "A"), "3");
  struct cfg_env_var *v = NULL;
  size_t n = 0;
  char err[64];
  int line;
  CHECK_INT(cfg_envfile_parse("A=1\nB=2\nA=3\n", 12, &v, &n, &line, err, sizeof(err)), 0);
  CHECK_INT(n, 2);
  cfg_env_vars_free(v, n);
}

TEST(what_muster_refuses) {
  CHECK(refused("A=1\nJUSTANAME\nB=2\n", 2, "expected NAME=value"));
  CHECK(refused("A=1\nexport B=2\n", 2, "\"export\" is not part of the syntax: write B=value"));
  CHECK(refused("1A=x\n", 1, "\"1A\" is not a variable name"));
  CHECK(refused("A B=x\n", 1, "is not a variable name"));
  CHECK(refused("A-B=x\n", 1, "is not a variable name"));
  CHECK(refused("=x\n", 1, "no variable name before '='"));
  CHECK(refused("A=1\nB=\"open\nstill\n", 2, "unterminated double quote"));
  CHECK(refused("A='open", 1, "unterminated single quote"));
  struct cfg_env_var *v = NULL;
  size_t n = 0;
  char err[64];
  int line = 0;
  CHECK_INT(cfg_envfile_parse("A=1\nB=x\0y\n", 10, &v, &n, &line, err, sizeof(err)), -1);
  CHECK_INT(line, 2);
  CHECK(v == NULL && n == 0);
  CHECK(refused("NAME", 1, "expected NAME=value")); /* at the end of the text */
}

TEST(read_a_file) {
  char path[] = "/tmp/test_envfile.XXXXXX", err[300];
  struct cfg_env_var *v = NULL;
  size_t n = 0;
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, "# db\nDB_URL='postgres://x'\nBAD LINE\n", 36) == 36);
  close(fd);
  CHECK_INT(cfg_envfile_read(path, &v, &n, err, sizeof(err)), UV_EINVAL);
  CHECK(strstr(err, ":3: expected NAME=value") != NULL && strstr(err, path) == err);
  fd = open(path, O_WRONLY | O_TRUNC);
  CHECK(write(fd, "DB_URL='postgres://x'\n", 22) == 22);
  close(fd);
  CHECK_INT(cfg_envfile_read(path, &v, &n, err, sizeof(err)), 0);
  CHECK(n == 1 && strcmp(v[0].value, "postgres://x") == 0);
  cfg_env_vars_free(v, n);
  unlink(path);
  CHECK_INT(cfg_envfile_read(path, &v, &n, err, sizeof(err)), UV_ENOENT);
  CHECK(strstr(err, "cannot read: No such file or directory") != NULL);
}

int main(void) {
  RUN(plain_lines_comments_and_blanks);
  RUN(single_quotes_keep_everything);
  RUN(double_quotes_and_their_escapes);
  RUN(quotes_open_only_at_the_start_and_join);
  RUN(unquoted_backslashes);
  RUN(a_later_name_wins);
  RUN(what_muster_refuses);
  RUN(read_a_file);
  get("", ""); /* frees the last result */
  return test_summary();
}
