/* Unit tests for the gateway's pure parts: route table, id map, reason
 * phrases. */
#include <stdint.h>
#include <stdlib.h>

#include "gw.h"
#include "gw_map.h"
#include "gw_route.h"
#include "test.h"

TEST(map_put_get_del) {
  struct gw_map m;
  gw_map_init(&m);
  CHECK(gw_map_get(&m, 1) == NULL);
  for (uintptr_t i = 1; i <= 10000; i++)
    CHECK_INT(gw_map_put(&m, i, (void *)(i * 3)), 0);
  CHECK_INT(m.n, 10000);
  for (uintptr_t i = 1; i <= 10000; i++)
    CHECK((uintptr_t)gw_map_get(&m, i) == i * 3);
  /* Delete every other key; the rest must stay reachable (probe runs). */
  for (uintptr_t i = 1; i <= 10000; i += 2)
    CHECK((uintptr_t)gw_map_del(&m, i) == i * 3);
  CHECK_INT(m.n, 5000);
  for (uintptr_t i = 1; i <= 10000; i++)
    CHECK((uintptr_t)gw_map_get(&m, i) == (i % 2 ? 0 : i * 3));
  CHECK(gw_map_del(&m, 1) == NULL);
  CHECK_INT(gw_map_put(&m, 2, (void *)7), 0); /* replace */
  CHECK((uintptr_t)gw_map_get(&m, 2) == 7);
  CHECK_INT(m.n, 5000);
  gw_map_free(&m);
}

TEST(map_churn) {
  /* A sliding window of live ids, as in-flight requests are. */
  struct gw_map m;
  gw_map_init(&m);
  for (uintptr_t i = 1; i <= 100000; i++) {
    gw_map_put(&m, i, (void *)i);
    if (i > 100)
      CHECK((uintptr_t)gw_map_del(&m, i - 100) == i - 100);
  }
  CHECK_INT(m.n, 100);
  CHECK(m.cap <= 512); /* deletions free slots: no growth from churn */
  for (uintptr_t i = 99901; i <= 100000; i++)
    CHECK((uintptr_t)gw_map_get(&m, i) == i);
  gw_map_free(&m);
}

/* A config with routes built by hand. */
static struct cfg_route routes_a[] = {{.prefix = "/api"}};
static struct cfg_route routes_b[] = {{.prefix = "/api/v2"}};
static char *get_only[] = {"GET", NULL};
static struct cfg_route routes_c[] = {{.prefix = "/x", .methods = get_only, .nmethods = 1},
                                      {.prefix = "/api", .host = "api.example.com"}};
static struct cfg_route routes_d[] = {{.prefix = "/"}};

static const char *match(const struct gw_routes *r, const char *method, const char *host,
                         const char *path) {
  const struct gw_route *rt =
      gw_routes_match(r, method, host, host ? strlen(host) : 0, path, strlen(path));
  return rt ? rt->target : "none";
}

TEST(routes) {
  struct cfg_service svcs[4] = {{.name = "a", .routes = routes_a, .nroutes = 1},
                                {.name = "b", .routes = routes_b, .nroutes = 1},
                                {.name = "c", .routes = routes_c, .nroutes = 2},
                                {.name = "d", .routes = routes_d, .nroutes = 0}};
  struct gw_route_src src[4];
  for (int i = 0; i < 4; i++)
    src[i] = (struct gw_route_src){svcs[i].routes, svcs[i].nroutes, svcs[i].name};
  struct gw_routes r;
  CHECK_INT(gw_routes_build(&r, src, 3), 0);
  CHECK_STR(match(&r, "GET", NULL, "/api"), "a");
  CHECK_STR(match(&r, "GET", NULL, "/api/"), "a");
  CHECK_STR(match(&r, "GET", NULL, "/api/v1/x"), "a");
  CHECK_STR(match(&r, "GET", NULL, "/api/v2"), "b");
  CHECK_STR(match(&r, "GET", NULL, "/api/v2/x"), "b");
  CHECK_STR(match(&r, "GET", NULL, "/api/v22"), "a"); /* whole segments */
  CHECK_STR(match(&r, "GET", NULL, "/apix"), "none");
  CHECK_STR(match(&r, "GET", NULL, "/"), "none");
  CHECK_STR(match(&r, "GET", NULL, "/x/y"), "c");
  CHECK_STR(match(&r, "POST", NULL, "/x/y"), "none");            /* method-bound */
  CHECK_STR(match(&r, "GET", "api.example.com", "/api/q"), "c"); /* host-bound first */
  CHECK_STR(match(&r, "GET", "API.Example.com", "/api/q"), "c");
  CHECK_STR(match(&r, "GET", "other", "/api/q"), "a");
  CHECK_STR(match(&r, "GET", "api.example.com:8080", "/api/q"), "c"); /* the port plays no part */
  CHECK_STR(match(&r, "GET", "api.example.com.", "/api/q"), "c");     /* nor a trailing dot */
  CHECK_STR(match(&r, "GET", "api.example.com.:80", "/api/q"), "c");
  CHECK_STR(match(&r, "GET", "api.example.com..", "/api/q"), "a");
  CHECK_STR(match(&r, "GET", "[::1]:8080", "/api/q"), "a");
  CHECK_STR(match(&r, "GET", ".", "/api/q"), "a");
  CHECK_STR(match(&r, "GET", "", "/api/q"), "a");
  gw_routes_free(&r);
  src[3].nroutes = 1;
  CHECK_INT(gw_routes_build(&r, src, 4), 0);
  CHECK_STR(match(&r, "GET", NULL, "/anything"), "d"); /* "/" catches the rest */
  CHECK_STR(match(&r, "GET", NULL, "/api/v2/x"), "b");
  gw_routes_free(&r);
}

/* Every registered code has its phrase (a program's 426 went out as
 * "426 Unknown"); an unregistered one has none (RFC 9112 §4). */
TEST(reasons) {
  CHECK_STR(gw_reason(100), "Continue");
  CHECK_STR(gw_reason(200), "OK");
  CHECK_STR(gw_reason(226), "IM Used");
  CHECK_STR(gw_reason(404), "Not Found");
  CHECK_STR(gw_reason(418), "");
  CHECK_STR(gw_reason(426), "Upgrade Required");
  CHECK_STR(gw_reason(451), "Unavailable For Legal Reasons");
  CHECK_STR(gw_reason(511), "Network Authentication Required");
  CHECK_STR(gw_reason(599), "");
  CHECK_STR(gw_reason(99), "");
  int known = 0;
  for (int s = 100; s <= 599; s++)
    known += gw_reason(s)[0] != '\0';
  CHECK_INT(known, 60); /* the registry's codes, every one found */
}

int main(void) {
  RUN(map_put_get_del);
  RUN(map_churn);
  RUN(routes);
  RUN(reasons);
  return test_summary();
}
