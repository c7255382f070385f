/* scale_floor — the floor of bench/scale.py: what pinging N idle processes
 * once a second costs with nothing but the system calls (no libuv, no
 * parsing, no supervisor): N children, one socketpair each, each child
 * answering every line with a pong; the parent sends one ping per child
 * per second in 20 batches (as muster's heartbeat wheel does), reads the
 * pongs through epoll, and reports its own CPU use over S seconds.
 *
 *   scale_floor N S      (bench/scale.py compiles it with cc -O2) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char ping[] = "{\"type\":\"ping\",\"seq\":1}\n";
static const char pong[] = "{\"type\":\"pong\",\"seq\":1}\n";

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A child: answers each line on fd until it closes. */
static void child(int fd) {
  char b[256];
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  for (;;) {
    struct epoll_event out;
    if (epoll_wait(ep, &out, 1, -1) < 1)
      continue;
    if (read(fd, b, sizeof(b)) <= 0 || write(fd, pong, sizeof(pong) - 1) < 0)
      _exit(0);
  }
}

/* Seconds of CPU (user + system) this process has used. */
static double cpu_s(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000, secs = argc > 2 ? atoi(argv[2]) : 20;
  int *fd = calloc((size_t)n, sizeof(*fd)), ep = epoll_create1(0), slot = 0;
  char buf[65536];
  for (int i = 0; i < n; i++) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
      return 1;
    if (fork() == 0) {
      close(sv[0]);
      child(sv[1]);
    }
    close(sv[1]);
    fd[i] = sv[0];
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
  }
  sleep(2); /* the children are up and asleep */
  double c0 = cpu_s();
  long start = now_ms(), next = start;
  while (now_ms() - start < secs * 1000L) {
    if (now_ms() >= next) {
      for (int i = slot; i < n; i += 20)
        if (write(fd[i], ping, sizeof(ping) - 1) < 0)
          return 1;
      slot = (slot + 1) % 20;
      next += 50;
    }
    struct epoll_event evs[256];
    long wait = next - now_ms();
    int k = epoll_wait(ep, evs, 256, wait > 0 ? (int)wait : 0);
    for (int j = 0; j < k; j++)
      if (read(fd[evs[j].data.u32], buf, sizeof(buf)) < 0)
        return 1;
  }
  printf("%.3f\n", (cpu_s() - c0) / secs * 100);
  for (int i = 0; i < n; i++)
    close(fd[i]);
  while (wait(NULL) > 0)
    ;
  return 0;
}
