/* util_sha1 — SHA-1 from a libcrypto opened on first use. See util_sha1.h. */
#include "util_sha1.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h> /* the prototypes only: nothing is linked */
#include <openssl/opensslv.h>

#define STR2(x) #x
#define STR(x) STR2(x)
/* The soname of the libcrypto the headers are from ("libcrypto.so.3"). */
#define CRYPTO_SONAME "libcrypto.so." STR(OPENSSL_VERSION_MAJOR)

/* The functions used, resolved once for the process (a library mapping is
 * process-wide by nature). */
static struct {
  __typeof__(EVP_MD_CTX_new) *ctx_new;
  __typeof__(EVP_MD_CTX_free) *ctx_free;
  __typeof__(EVP_sha1) *sha1;
  __typeof__(EVP_DigestInit_ex) *init;
  __typeof__(EVP_DigestUpdate) *update;
  __typeof__(EVP_DigestFinal_ex) *final;
  int ok;
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

static void crypto_open(void) {
  void *h = dlopen(CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    fprintf(stderr, "muster: SHA-1 needs %s: %s\n", CRYPTO_SONAME, dlerror());
    return;
  }
  *(void **)&crypto.ctx_new = dlsym(h, "EVP_MD_CTX_new");
  *(void **)&crypto.ctx_free = dlsym(h, "EVP_MD_CTX_free");
  *(void **)&crypto.sha1 = dlsym(h, "EVP_sha1");
  *(void **)&crypto.init = dlsym(h, "EVP_DigestInit_ex");
  *(void **)&crypto.update = dlsym(h, "EVP_DigestUpdate");
  *(void **)&crypto.final = dlsym(h, "EVP_DigestFinal_ex");
  crypto.ok = crypto.ctx_new && crypto.ctx_free && crypto.sha1 && crypto.init && crypto.update &&
              crypto.final;
  if (!crypto.ok)
    fprintf(stderr, "muster: %s lacks the EVP digest functions\n", CRYPTO_SONAME);
}

int util_sha1(const void *p1, size_t n1, const void *p2, size_t n2,
              unsigned char out[UTIL_SHA1_LEN]) {
  pthread_once(&crypto_once, crypto_open);
  if (!crypto.ok)
    return -1;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_MD_CTX *ctx = crypto.ctx_new();
  int ok = ctx && crypto.init(ctx, crypto.sha1(), NULL) && crypto.update(ctx, p1, n1) &&
           (n2 == 0 || crypto.update(ctx, p2, n2)) && crypto.final(ctx, md, &len);
  crypto.ctx_free(ctx);
  if (!ok || len != UTIL_SHA1_LEN)
    return -1;
  memcpy(out, md, UTIL_SHA1_LEN);
  return 0;
}
