/* Unit tests for util/: the HTTP date, array growth, exact JSON integers, token bytes,
 * SHA-1 (FIPS 180 vectors; the libcrypto behind it is opened on use).
 *
 * util_vec.c is included with realloc redirected, so an allocation
 * failure can be made to happen on demand. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

static int fail_realloc;    /* the next realloc returns NULL */
static size_t last_realloc; /* bytes the last realloc asked for */

static void *test_realloc(void *p, size_t n) {
  last_realloc = n;
  if (fail_realloc) {
    fail_realloc = 0;
    return NULL;
  }
  return realloc(p, n);
}

#define realloc test_realloc
#include "util_vec.c"
#undef realloc

#include "test.h"
#include "util_date.h"
#include "util_json.h"
#include "util_listenfds.h"
#include "util_sha1.h"
#include "util_token.h"

/* ---- util_date ---- */

TEST(http_date_imf_fixdate) {
  char d[UTIL_HTTP_DATE_LEN + 1];
  CHECK_INT(util_http_date(784111777, d), UTIL_HTTP_DATE_LEN); /* RFC 9110's example */
  CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK_INT(util_http_date(0, d), UTIL_HTTP_DATE_LEN);
  CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK_INT(util_http_date(1798761599, d), UTIL_HTTP_DATE_LEN); /* a year's last second */
  CHECK_STR(d, "Thu, 31 Dec 2026 23:59:59 GMT");
}

/* ---- util_vec ---- */

TEST(vec_first_growth_is_8) {
  int *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 1), 0);
  CHECK(v != NULL);
  CHECK_INT(cap, 8);
  CHECK_INT(last_realloc, 8 * sizeof(int));
  free(v);
}

TEST(vec_doubles_to_cover_need) {
  int *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 9), 0);
  CHECK_INT(cap, 16);
  CHECK_INT(util_vec_reserve(&v, &cap, 100), 0);
  CHECK_INT(cap, 128); /* 16 -> 32 -> 64 -> 128 in one call */
  for (int i = 0; i < 128; i++)
    v[i] = i; /* the whole capacity is really there (ASan) */
  CHECK_INT(util_vec_reserve(&v, &cap, 129), 0);
  CHECK_INT(cap, 256);
  for (int i = 0; i < 128; i++)
    CHECK_INT(v[i], i); /* contents kept */
  free(v);
}

TEST(vec_enough_room_is_a_no_op) {
  int *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 5), 0);
  int *before = v;
  last_realloc = 0;
  CHECK_INT(util_vec_grow((void **)&v, &cap, 8, sizeof(*v)), 0);
  CHECK_INT(util_vec_grow((void **)&v, &cap, 0, sizeof(*v)), 0);
  CHECK(v == before);
  CHECK_INT(cap, 8);
  CHECK_INT(last_realloc, 0);
  free(v);
}

TEST(vec_odd_capacity_doubles_from_itself) {
  int *v = malloc(3 * sizeof(int));
  size_t cap = 3;
  CHECK_INT(util_vec_reserve(&v, &cap, 4), 0);
  CHECK_INT(cap, 6);
  free(v);
}

/* A count whose doubling would wrap: refused before any allocation. */
TEST(vec_count_overflow_leaves_array) {
  char *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 10), 0);
  char *before = v;
  last_realloc = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, SIZE_MAX), UV_ENOMEM);
  CHECK_INT(util_vec_reserve(&v, &cap, SIZE_MAX / 2 + 2), UV_ENOMEM);
  CHECK(v == before);
  CHECK_INT(cap, 16);
  CHECK_INT(last_realloc, 0);
  free(v);
}

/* A count that fits but whose bytes do not. */
TEST(vec_byte_overflow_leaves_array) {
  uint64_t *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 1), 0);
  uint64_t *before = v;
  last_realloc = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, SIZE_MAX / 8 + 1), UV_ENOMEM);
  CHECK(v == before);
  CHECK_INT(cap, 8);
  CHECK_INT(last_realloc, 0);
  /* The largest count that fits in bytes is still computed right. */
  size_t c2 = 0;
  void *none = NULL;
  fail_realloc = 1; /* do not really allocate 2^60 bytes */
  CHECK_INT(util_vec_grow(&none, &c2, (size_t)1 << 60, 8), UV_ENOMEM);
  CHECK(last_realloc == ((size_t)1 << 63));
  free(v);
}

TEST(vec_realloc_failure_leaves_array) {
  int *v = NULL;
  size_t cap = 0;
  CHECK_INT(util_vec_reserve(&v, &cap, 8), 0);
  v[7] = 42;
  int *before = v;
  fail_realloc = 1;
  CHECK_INT(util_vec_reserve(&v, &cap, 9), UV_ENOMEM);
  CHECK(v == before);
  CHECK_INT(cap, 8);
  CHECK_INT(v[7], 42);
  CHECK_INT(util_vec_reserve(&v, &cap, 9), 0); /* and it can grow later */
  CHECK_INT(cap, 16);
  CHECK_INT(v[7], 42);
  free(v);
}

/* ---- util_json_int ---- */

#define UNTOUCHED 0x5eed

/* util_json_int on the JSON text s; *out starts as UNTOUCHED. */
static int json_int(const char *s, int64_t *out) {
  cJSON *v = cJSON_Parse(s);
  *out = UNTOUCHED;
  int rc = util_json_int(v, out);
  cJSON_Delete(v);
  return rc;
}

static int number_int(double d, int64_t *out) {
  cJSON *v = cJSON_CreateNumber(d);
  *out = UNTOUCHED;
  int rc = util_json_int(v, out);
  cJSON_Delete(v);
  return rc;
}

TEST(json_int_integers) {
  int64_t v;
  CHECK_INT(json_int("0", &v), 0);
  CHECK_INT(v, 0);
  CHECK_INT(json_int("-0", &v), 0);
  CHECK_INT(v, 0);
  CHECK_INT(json_int("42", &v), 0);
  CHECK_INT(v, 42);
  CHECK_INT(json_int("-42", &v), 0);
  CHECK_INT(v, -42);
  CHECK_INT(json_int("1e3", &v), 0); /* a number with no fraction is one */
  CHECK_INT(v, 1000);
  CHECK_INT(json_int("2.0", &v), 0);
  CHECK_INT(v, 2);
  CHECK_INT(json_int("2147483648", &v), 0); /* past int: valueint would clamp */
  CHECK_INT(v, 2147483648LL);
}

TEST(json_int_fractions) {
  int64_t v;
  CHECK_INT(json_int("1.5", &v), UV_EINVAL);
  CHECK_INT(v, UNTOUCHED);
  CHECK_INT(json_int("-0.5", &v), UV_EINVAL);
  CHECK_INT(json_int("1e-3", &v), UV_EINVAL);
  CHECK_INT(json_int("4503599627370495.5", &v), UV_EINVAL); /* 2^52 - 0.5: exact */
  CHECK_INT(v, UNTOUCHED);
}

TEST(json_int_2_53_boundaries) {
  int64_t v;
  CHECK_INT(json_int("9007199254740992", &v), 0);
  CHECK_INT(v, UTIL_JSON_INT_MAX);
  CHECK_INT(json_int("-9007199254740992", &v), 0);
  CHECK_INT(v, -UTIL_JSON_INT_MAX);
  CHECK_INT(json_int("9007199254740991", &v), 0);
  CHECK_INT(v, UTIL_JSON_INT_MAX - 1);
  CHECK_INT(json_int("9007199254740994", &v), UV_ERANGE); /* next double up */
  CHECK_INT(v, UNTOUCHED);
  CHECK_INT(json_int("-9007199254740994", &v), UV_ERANGE);
  CHECK_INT(json_int("1e300", &v), UV_ERANGE);
  CHECK_INT(v, UNTOUCHED);
  CHECK_INT(number_int(9007199254740992.0 * 2, &v), UV_ERANGE);
}

TEST(json_int_nan_like) {
  int64_t v;
  CHECK_INT(number_int(NAN, &v), UV_EINVAL);
  CHECK_INT(v, UNTOUCHED);
  CHECK_INT(number_int(INFINITY, &v), UV_ERANGE);
  CHECK_INT(number_int(-INFINITY, &v), UV_ERANGE);
  CHECK_INT(v, UNTOUCHED);
  CHECK_INT(json_int("NaN", &v), UV_EINVAL); /* not JSON: no value at all */
  CHECK_INT(json_int("Infinity", &v), UV_EINVAL);
}

TEST(json_int_non_numbers) {
  int64_t v = UNTOUCHED;
  CHECK_INT(util_json_int(NULL, &v), UV_EINVAL); /* a missing field */
  CHECK_INT(json_int("\"5\"", &v), UV_EINVAL);
  CHECK_INT(json_int("true", &v), UV_EINVAL);
  CHECK_INT(json_int("false", &v), UV_EINVAL);
  CHECK_INT(json_int("null", &v), UV_EINVAL);
  CHECK_INT(json_int("[5]", &v), UV_EINVAL);
  CHECK_INT(json_int("{\"a\":5}", &v), UV_EINVAL);
  CHECK_INT(v, UNTOUCHED);
}

/* ---- util_json_nul_escape ---- */

TEST(json_nul_escape) {
  const char *none[] = {"", "{}", "\"\\\\u0000\"", "\"\\u0001\"", "\"\\u000\"", "\"u0000\""};
  for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++)
    CHECK_INT(util_json_nul_escape(none[i], strlen(none[i])), strlen(none[i]));
  CHECK_INT(util_json_nul_escape("{\"a\":\"\\u0000\"}", 12), 6);
  CHECK_INT(util_json_nul_escape("\"\\\\\\u0000\"", 10), 3); /* "\\" then the escape */
  CHECK_INT(util_json_nul_escape("\"\\u0000\"", 6), 6);      /* only n bytes are looked at */
}

/* ---- util_json_lone_surrogates ---- */

/* The count for t, and t mended into out (as a string). */
static size_t mend(const char *t, char *out) {
  size_t n = strlen(t), k = util_json_lone_surrogates(t, n, out);
  out[n] = '\0';
  CHECK_INT(util_json_lone_surrogates(t, n, NULL), k);
  return k;
}

TEST(json_lone_surrogates) {
  static const struct {
    const char *in, *out;
    size_t lone;
  } cases[] = {
      {"", "", 0},
      {"\"abc\"", "\"abc\"", 0},
      {"\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\"", 0},               /* a pair */
      {"\"\\uD83D\\uDE00\"", "\"\\uD83D\\uDE00\"", 0},               /* upper case */
      {"\"\\ud83d\"", "\"\\ufffd\"", 1},                             /* high alone */
      {"\"\\ude00x\"", "\"\\ufffdx\"", 1},                           /* low alone */
      {"\"\\ude00\\ud83d\"", "\"\\ufffd\\ufffd\"", 2},               /* wrong order */
      {"\"\\ud83d\\ud83d\\ude00\"", "\"\\ufffd\\ud83d\\ude00\"", 1}, /* high, pair */
      {"\"\\ud83d\\u0041\"", "\"\\ufffd\\u0041\"", 1},               /* high, not low */
      {"\"\\\\ud83d\"", "\"\\\\ud83d\"", 0},     /* an escaped backslash, then text */
      {"\"\\\\\\ud83d\"", "\"\\\\\\ufffd\"", 1}, /* a backslash, then the escape */
      {"\"\\ud83\"", "\"\\ud83\"", 0},           /* not 4 hex digits: cJSON's to refuse */
      {"\"\\udx00\"", "\"\\udx00\"", 0},
      {"\\ud83d", "\\ufffd", 1}, /* the last 6 bytes */
      {"\\ud83", "\\ud83", 0},
  };
  char out[64];
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    size_t k = mend(cases[i].in, out);
    if (k != cases[i].lone || strcmp(out, cases[i].out) != 0) {
      printf("  %s: %zu \"%s\", expected %zu \"%s\"\n", cases[i].in, k, out, cases[i].lone,
             cases[i].out);
      test_cur_failed = 1;
    }
  }
}

/* ---- util_is_tchar / util_is_token ---- */

/* RFC 9110 §5.6.2, written out independently of the table. */
static int rfc_tchar(int c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

TEST(tchar_every_byte) {
  int n = 0;
  for (int c = 0; c < 256; c++) {
    if (util_is_tchar((unsigned char)c) != rfc_tchar(c)) {
      printf("  byte 0x%02x: util_is_tchar %d\n", c, util_is_tchar((unsigned char)c));
      test_cur_failed = 1;
    }
    n += rfc_tchar(c);
  }
  CHECK_INT(n, 10 + 26 + 26 + 15);
}

TEST(token_every_byte) {
  for (int c = 0; c < 256; c++) {
    char s[3] = {'a', (char)c, 'b'};
    if (util_is_token(s, 3) != rfc_tchar(c) || util_is_token(s + 1, 1) != rfc_tchar(c)) {
      printf("  byte 0x%02x: util_is_token wrong\n", c);
      test_cur_failed = 1;
    }
  }
}

TEST(token_strings) {
  CHECK_INT(util_is_token("", 0), 0); /* empty is not a token */
  CHECK_INT(util_is_token("GET", 3), 1);
  CHECK_INT(util_is_token("x-request-id", 12), 1);
  CHECK_INT(util_is_token("a b", 3), 0);
  CHECK_INT(util_is_token("name:", 5), 0);
  CHECK_INT(util_is_token("GET ", 3), 1); /* only n bytes are read */
  CHECK_INT(util_is_token("a\0b", 3), 0);
}

/* ---- util_sha1 ---- */

static void hex(const unsigned char *md, char *out) {
  for (int i = 0; i < UTIL_SHA1_LEN; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

TEST(sha1_vectors) {
  unsigned char md[UTIL_SHA1_LEN];
  char h[2 * UTIL_SHA1_LEN + 1];
  CHECK_INT(util_sha1("abc", 3, NULL, 0, md), 0);
  hex(md, h);
  CHECK_STR(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK_INT(util_sha1("", 0, NULL, 0, md), 0);
  hex(md, h);
  CHECK_STR(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  /* Two parts hash as their concatenation. */
  static const char m[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (size_t cut = 0; cut <= sizeof(m) - 1; cut += 7) {
    CHECK_INT(util_sha1(m, cut, m + cut, sizeof(m) - 1 - cut, md), 0);
    hex(md, h);
    CHECK_STR(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  }
}

/* $LISTEN_PID / $LISTEN_FDS as sd_listen_fds(3) reads them. */
TEST(listenfds_count) {
  char why[128];
  CHECK_INT(util_listenfds_count(NULL, NULL, 42, why, sizeof(why)), 0);
  CHECK_INT(util_listenfds_count("42", "2", 42, why, sizeof(why)), 2);
  CHECK_INT(util_listenfds_count("41", "2", 42, why, sizeof(why)), 0); /* a parent's */
  CHECK_INT(util_listenfds_count("42", "0", 42, why, sizeof(why)), 0);
  CHECK_INT(util_listenfds_count(NULL, "2", 42, why, sizeof(why)), -1);
  CHECK(strstr(why, "LISTEN_PID") != NULL);
  CHECK_INT(util_listenfds_count("42", "-1", 42, why, sizeof(why)), -1);
  CHECK_STR(why, "LISTEN_FDS \"-1\" is not a count");
  CHECK_INT(util_listenfds_count("42x", "1", 42, why, sizeof(why)), -1);
  CHECK_INT(util_listenfds_count("42", "65", 42, why, sizeof(why)), -1);
  CHECK_STR(why, "LISTEN_FDS 65 is more than the 64 sockets muster takes");
  CHECK_INT(util_listenfds_count("42", "64", 42, why, sizeof(why)), 64);
}

/* Kept sockets: only listening TCP ones; a take is a new descriptor for
 * the socket bound to that address. */
TEST(listenfds_add_take) {
  struct util_listenfds l = {0};
  char why[160], name[64];
  int lst = socket(AF_INET, SOCK_STREAM, 0), idle = socket(AF_INET, SOCK_STREAM, 0);
  int udp = socket(AF_INET, SOCK_DGRAM, 0), pair[2];
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
  CHECK(bind(lst, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lst, 4) == 0);
  CHECK(getsockname(lst, (struct sockaddr *)&a, &len) == 0);
  CHECK(util_listenfds_add(&l, udp, why, sizeof(why)) == -1 && strstr(why, "not a TCP socket"));
  CHECK(util_listenfds_add(&l, pair[0], why, sizeof(why)) == -1 && strstr(why, "not a TCP socket"));
  CHECK(util_listenfds_add(&l, idle, why, sizeof(why)) == -1 && strstr(why, "not listening"));
  CHECK(util_listenfds_add(&l, 999, why, sizeof(why)) == -1 && strstr(why, "not a socket"));
  CHECK(util_listenfds_add(&l, lst, why, sizeof(why)) == 0 && l.n == 1);
  util_listenfds_name(&l, 0, name, sizeof(name));
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(a.sin_port));
  CHECK_STR(name, want);
  int fd = util_listenfds_take(&l, (struct sockaddr *)&a);
  CHECK(fd >= 0 && fd != lst && l.taken[0] == 1);
  struct sockaddr_in b = a;
  b.sin_port = htons(ntohs(a.sin_port) == 65535 ? 1 : ntohs(a.sin_port) + 1);
  CHECK(util_listenfds_take(&l, (struct sockaddr *)&b) == -1); /* another port */
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = a.sin_port};
  CHECK(util_listenfds_take(&l, (struct sockaddr *)&v6) == -1); /* another family */
  if (fd >= 0)
    close(fd);
  util_listenfds_free(&l); /* closes lst */
  CHECK(l.n == 0);
  close(idle);
  close(udp);
  close(pair[0]);
  close(pair[1]);
}

int main(void) {
  RUN(listenfds_count);
  RUN(listenfds_add_take);
  RUN(http_date_imf_fixdate);
  RUN(vec_first_growth_is_8);
  RUN(vec_doubles_to_cover_need);
  RUN(vec_enough_room_is_a_no_op);
  RUN(vec_odd_capacity_doubles_from_itself);
  RUN(vec_count_overflow_leaves_array);
  RUN(vec_byte_overflow_leaves_array);
  RUN(vec_realloc_failure_leaves_array);
  RUN(json_int_integers);
  RUN(json_int_fractions);
  RUN(json_int_2_53_boundaries);
  RUN(json_int_nan_like);
  RUN(json_int_non_numbers);
  RUN(json_nul_escape);
  RUN(json_lone_surrogates);
  RUN(tchar_every_byte);
  RUN(token_every_byte);
  RUN(token_strings);
  RUN(sha1_vectors);
  return test_summary();
}
