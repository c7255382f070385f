/* replay — runs a fuzz driver's LLVMFuzzerTestOneInput over saved inputs
 * without libFuzzer, so the same drivers build with gcc + ASan and every
 * corpus input (seeds and past crashes) is a regression test under ctest.
 *
 *   fuzz_NAME_replay DIR_OR_FILE...   (each regular file of a DIR, sorted)
 *
 * A broken invariant aborts (FUZZ_CHECK) after the input's name has been
 * printed; exits 0 when every input ran, 1 when one could not be read. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Runs one file through the driver. Returns 0, or 1 when it cannot be read. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, got;
  if (f == NULL) {
    perror(path);
    return 1;
  }
  do {
    if (len == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return 1;
      }
      buf = nb;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  fclose(f);
  fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
  /* Hand over an exact-size copy, so ASan sees reads past the end. */
  uint8_t *exact = malloc(len ? len : 1);
  if (len)
    memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int regular_file(const struct dirent *e) {
  return e->d_name[0] != '.';
}

int main(int argc, char **argv) {
  int files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      failed += run_file(argv[i]);
      files++;
      continue;
    }
    struct dirent **names;
    int n = scandir(argv[i], &names, regular_file, alphasort);
    if (n < 0) {
      perror(argv[i]);
      return 1;
    }
    for (int k = 0; k < n; k++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
      if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        failed += run_file(path);
        files++;
      }
      free(names[k]);
    }
    free(names);
  }
  printf("%d inputs replayed, %d unreadable\n", files - failed, failed);
  return failed ? 1 : 0;
}
