/* sup_listens — see sup_listens.h. */
#include "sup_listens.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INODES 256  /* sockets looked at: a probe's hint, not an inventory */
#define MAX_PIDS 32     /* the process and its descendants looked at */
#define TCP_LISTEN 0x0A /* the kernel's TCP_LISTEN in /proc/net/tcp's "st" */

/* Skips blanks; returns the next field's start and its length in *n. */
static const char *field(const char *s, size_t *n) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t k = 0;
  while (s[k] != '\0' && s[k] != ' ' && s[k] != '\t' && s[k] != '\n')
    k++;
  *n = k;
  return s;
}

/* The hexadecimal (base 16) or decimal number of s[0..n), at most max;
 * -1 when it is empty, has other characters or is past max. */
static long long number(const char *s, size_t n, int base, long long max) {
  long long v = 0;
  if (n == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    int d = s[i] >= '0' && s[i] <= '9'                 ? s[i] - '0'
            : base == 16 && s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
            : base == 16 && s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                                                       : -1;
    if (d < 0 || v > (max - d) / base)
      return -1;
    v = v * base + d;
  }
  return v;
}

int sup_listens_parse_line(const char *line, int *port, unsigned long *inode) {
  /* "  0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000
   *  00000000  1000  0 123456 1 ..." — sl, local, remote, st, queues,
   * timer, retransmits, uid, timeout, inode */
  const char *s = line, *f[10];
  size_t n[10];
  for (int i = 0; i < 10; i++) {
    f[i] = field(s, &n[i]);
    if (n[i] == 0)
      return 0;
    s = f[i] + n[i];
  }
  const char *colon = memchr(f[1], ':', n[1]);
  if (colon == NULL)
    return 0;
  size_t plen = n[1] - (size_t)(colon + 1 - f[1]);
  long long p = number(colon + 1, plen, 16, 65535);
  long long st = number(f[3], n[3], 16, 255);
  long long ino = number(f[9], n[9], 10, 0x7fffffffffffffffLL);
  if (p <= 0 || st != TCP_LISTEN || ino <= 0 || (unsigned long long)ino > (unsigned long)-1)
    return 0;
  *port = (int)p;
  *inode = (unsigned long)ino;
  return 1;
}

size_t sup_listens_parse_pids(const char *text, size_t len, pid_t *pids, size_t max) {
  size_t n = 0, i = 0;
  while (i < len && n < max) {
    while (i < len && (text[i] == ' ' || text[i] == '\n'))
      i++;
    size_t b = i;
    while (i < len && text[i] != ' ' && text[i] != '\n')
      i++;
    long long v = number(text + b, i - b, 10, 0x7fffffff);
    if (v > 0)
      pids[n++] = (pid_t)v;
  }
  return n;
}

/* Adds the children of pid (/proc/PID/task/PID/children) to pids. */
static void add_children(pid_t pid, pid_t *pids, size_t *n, size_t max) {
  char path[80], text[512];
  snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t k = read(fd, text, sizeof(text));
  close(fd);
  if (k > 0)
    *n += sup_listens_parse_pids(text, (size_t)k, pids + *n, max - *n);
}

/* Adds the socket inodes of /proc/PID/fd to inodes (at most MAX_INODES). */
static void add_sockets(pid_t pid, unsigned long *inodes, size_t *n) {
  char path[64], link[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  struct dirent *e;
  if (d == NULL)
    return;
  while (*n < MAX_INODES && (e = readdir(d)) != NULL) {
    unsigned long ino;
    char tail;
    ssize_t k = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
    if (k <= 0)
      continue;
    link[k] = '\0';
    if (sscanf(link, "socket:[%lu%c", &ino, &tail) == 2 && tail == ']')
      inodes[(*n)++] = ino;
  }
  closedir(d);
}

/* Adds to ports (each once) the LISTEN ports of file (a /proc/PID/net/tcp
 * or tcp6) whose inode is in inodes. */
static void add_ports(const char *file, const unsigned long *inodes, size_t ninodes, int *ports,
                      size_t max, size_t *nports) {
  FILE *f = fopen(file, "re");
  char line[512];
  if (f == NULL)
    return;
  while (*nports < max && fgets(line, sizeof(line), f) != NULL) {
    int port, take = 0;
    unsigned long ino;
    if (!sup_listens_parse_line(line, &port, &ino))
      continue;
    for (size_t i = 0; i < ninodes && !take; i++)
      take = inodes[i] == ino; /* one of its sockets */
    for (size_t i = 0; i < *nports && take; i++)
      take = ports[i] != port; /* not named yet (IPv4 and IPv6 alike) */
    if (take)
      ports[(*nports)++] = port;
  }
  fclose(f);
}

static int cmp_int(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

size_t sup_listens_of(pid_t pid, int *ports, size_t max) {
  unsigned long inodes[MAX_INODES];
  pid_t pids[MAX_PIDS];
  size_t ninodes = 0, nports = 0, npids = 0;
  char file[64];
  if (pid <= 0)
    return 0;
  /* the process, then its children and theirs (npm, then sh -c, then node),
   * as far as MAX_PIDS: cheap even with a thousand instances timing out */
  pids[npids++] = pid;
  for (size_t i = 0, level_end = 1, level = 0; i < npids && level < 3; i++) {
    add_children(pids[i], pids, &npids, MAX_PIDS);
    if (i + 1 == level_end) {
      level_end = npids;
      level++;
    }
  }
  for (size_t i = 0; i < npids; i++)
    add_sockets(pids[i], inodes, &ninodes);
  if (ninodes == 0)
    return 0;
  /* the network namespace is the process's */
  snprintf(file, sizeof(file), "/proc/%d/net/tcp", (int)pid);
  add_ports(file, inodes, ninodes, ports, max, &nports);
  snprintf(file, sizeof(file), "/proc/%d/net/tcp6", (int)pid);
  add_ports(file, inodes, ninodes, ports, max, &nports);
  qsort(ports, nports, sizeof(*ports), cmp_int);
  return nports;
}
