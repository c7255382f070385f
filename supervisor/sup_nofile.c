/* sup_nofile — see sup_nofile.h. */
#include "sup_nofile.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "sup_log.h"

uint64_t sup_nofile_need(const struct cfg *cfg) {
  uint64_t n = SUP_NOFILE_BASE + (uint64_t)cfg->gateway.max_connections;
  for (size_t i = 0; i < cfg->ntcp; i++)
    n += (uint64_t)cfg->tcp[i].max_connections;
  for (size_t i = 0; i < cfg->nservices; i++)
    n += 3 * (uint64_t)cfg->services[i].instances;
  return n;
}

uint64_t sup_nofile_target(uint64_t soft, uint64_t hard, uint64_t need) {
  uint64_t want = need > SUP_NOFILE_WANT ? need : SUP_NOFILE_WANT;
  if (want > hard)
    want = hard;
  return want > soft ? want : soft;
}

void sup_nofile_raise(const struct cfg *cfg) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  uint64_t hard = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
  uint64_t soft = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
  uint64_t need = sup_nofile_need(cfg);
  uint64_t want = sup_nofile_target(soft, hard, need);
  if (want > soft) {
    rl.rlim_cur = (rlim_t)want;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
      soft = want;
    else
      sup_log(SUP_WARN, "file descriptors: raising the limit from %llu to %llu failed: %s",
              (unsigned long long)soft, (unsigned long long)want, strerror(errno));
  }
  if (soft < need)
    sup_log(SUP_WARN,
            "file descriptors: the limit is %llu, below the %llu that max_connections and "
            "the instances may need; connections past it are closed unanswered (raise the "
            "hard limit: ulimit -Hn, or LimitNOFILE= under systemd)",
            (unsigned long long)soft, (unsigned long long)need);
}
