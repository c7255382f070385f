/* tcp_client — the load of bench/upstream.py's TCP rounds (no library):
 *
 *   tcp_client stream PORT MB      one connection: 'S' then MB MiB, a
 *                                  half-close, the sink's count back;
 *                                  prints MB/s
 *   tcp_client conns PORT SECONDS THREADS
 *                                  each thread: connect, 1 byte, its echo,
 *                                  close, again; prints connections/s
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static double seconds;
static long done[64];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A connected socket to 127.0.0.1:port, or -1. */
static int dial(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  if (fd < 0)
    return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* One connection pushing mb MiB. Returns 0 or 1. */
static int stream(long mb) {
  static char buf[1 << 20];
  memset(buf, 'x', sizeof(buf));
  buf[0] = 'S';
  int fd = dial();
  if (fd < 0)
    return 1;
  double t0 = now();
  for (long i = 0; i < mb; i++)
    for (size_t off = 0; off < sizeof(buf);) {
      ssize_t n = write(fd, buf + off, sizeof(buf) - off);
      if (n <= 0)
        return 1;
      off += (size_t)n;
    }
  shutdown(fd, SHUT_WR);
  char reply[64] = {0};
  ssize_t n = read(fd, reply, sizeof(reply) - 1);
  double t = now() - t0;
  close(fd);
  if (n <= 0 || atol(reply) != mb << 20)
    return 1;
  printf("%.1f\n", (double)mb / t);
  return 0;
}

static void *conns(void *arg) {
  long *count = arg;
  double end = now() + seconds;
  char c = 'p';
  while (now() < end) {
    int fd = dial();
    if (fd < 0)
      continue;
    if (write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1)
      (*count)++;
    close(fd);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "stream") == 0) {
    port = atoi(argv[2]);
    return stream(atol(argv[3]));
  }
  if (argc < 5 || strcmp(argv[1], "conns") != 0)
    return 2;
  port = atoi(argv[2]);
  seconds = atof(argv[3]);
  int threads = atoi(argv[4]);
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; i++)
    pthread_create(&t[i], NULL, conns, &done[i]);
  long total = 0;
  for (int i = 0; i < threads && i < 64; i++) {
    pthread_join(t[i], NULL);
    total += done[i];
  }
  printf("%.0f\n", (double)total / seconds);
  return 0;
}
