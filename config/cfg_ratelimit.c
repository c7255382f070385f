/* cfg_ratelimit — gateway.rate_limit: how many requests each client may
 * send (gw_ratelimit applies it).
 *
 *   "rate_limit": {"rate": 20, "burst": 40, "max_clients": 100000,
 *                  "exempt": ["10.0.0.0/8"]}
 *
 * rate is requests a second (a fraction for fewer: 0.5 is one every two
 * seconds); burst how many may come at once above it (default: the rate,
 * at least 1). */
#include "cfg_schema.h"

static const char *const rate_keys[] = {"rate", "burst", "max_clients", "exempt", NULL};

void cfg__parse_rate_limit(struct cfg__ctx *x, const cJSON *v, struct cfg_gateway *g) {
  struct cfg_rate_limit *r = &g->rate_limit;
  const char *p = "gateway.rate_limit";
  if (v == NULL || cJSON_IsNull(v) || cfg__check_object(x, v, p, rate_keys) != 0)
    return;
  r->enabled = 1;
  if (cJSON_GetObjectItemCaseSensitive(v, "rate") == NULL)
    cfg__err(x, "gateway.rate_limit.rate", "required: requests a second, each client");
  cfg__get_number(x, v, p, "rate", 1, 0.001, 1000000, &r->rate);
  double burst = 0, clients = 0;
  int dflt = (int)r->rate + (r->rate > (int)r->rate); /* the rate, rounded up */
  cfg__get_number(x, v, p, "burst", dflt, 1, 1000000, &burst);
  cfg__get_number(x, v, p, "max_clients", 100000, 1, 10000000, &clients);
  if (burst != (double)(int64_t)burst)
    cfg__err(x, "gateway.rate_limit.burst", "must be a whole number, got %g", burst);
  if (clients != (double)(int64_t)clients)
    cfg__err(x, "gateway.rate_limit.max_clients", "must be a whole number, got %g", clients);
  r->burst = (int)burst;
  r->max_clients = (int)clients;
  cfg__read_cidrs(x, v, p, "exempt", &r->exempt, &r->nexempt);
}
