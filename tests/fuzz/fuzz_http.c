/* fuzz_http — the gateway's request handling: bytes in, responses out.
 *
 * The in-process gateway and admin listener of fuzz_gw.h, and its client.
 *
 * Each input is sent twice on fresh connections, then half-closed: once
 * in one write, once cut into pieces (sizes from a hash of the input) with
 * a loop turn between pieces, so the server reads them one by one. One
 * input in eight goes to the admin listener instead of the gateway.
 *
 * What comes back is checked against a reference: llhttp alone (strict,
 * as the gateway uses it) parsing the same bytes, which tells how many
 * complete requests there are, their methods, versions and keep-alive.
 * - Every response is HTTP/1.1 with a known reason phrase, lower-case
 *   token header names, printable values, an x-request-id and exactly one
 *   of content-length or transfer-encoding: chunked; its body is complete
 *   (only a chunked event stream may be cut by the close), and absent
 *   exactly when its request was HEAD.
 * - There are at most as many final responses as complete requests, plus
 *   one error answer; every response but the last keeps the connection;
 *   the last one says `connection: close` unless every request was
 *   answered and the bytes held nothing else; a 100 Continue comes at most
 *   once per request, only for HTTP/1.1, before its final response.
 * - The server closes every connection the client half-closed.
 * - Both ways of sending give the same responses: status, close, body and
 *   its length (not for a gzipped body: its length depends on the bytes of
 *   the request id it quotes, not only on their number). Except for a refusal (400, 413, 414, 417,
 * 431, 505): a request with two faults is refused for the one met first, and that may depend on
 * where a read ended (llhttp hands a header to the size check when its read ends, but stops at a
 * bad byte before handing it over), so any refusal matches any other.
 * - Nothing crashes, leaks (LSan) or hangs. */
#include "fuzz_gw.h"
#include "gw_h2.h"
#include "util_token.h"

#define MAX_RESP 512

/* ---- The reference: llhttp alone on the same bytes ---- */

struct ref_req {
  int method;    /* llhttp method, -1 until the method is complete */
  int minor;     /* HTTP minor version, -1 until the head is complete */
  int complete;  /* the whole request was read */
  int keepalive; /* llhttp_should_keep_alive() at its end */
};

struct ref {
  struct ref_req *req;
  size_t n, cap;      /* requests begun */
  size_t ncomplete;   /* requests complete */
  llhttp_errno_t err; /* what parsing the whole input ended with */
};

static struct ref_req *ref_cur(llhttp_t *p) {
  struct ref *r = p->data;
  return &r->req[r->n - 1];
}

static int ref_begin(llhttp_t *p) {
  struct ref *r = p->data;
  if (r->n == r->cap) {
    r->cap = r->cap ? r->cap * 2 : 16;
    r->req = realloc(r->req, r->cap * sizeof(*r->req));
  }
  r->req[r->n++] = (struct ref_req){.method = -1, .minor = -1};
  return 0;
}

static int ref_method(llhttp_t *p) {
  ref_cur(p)->method = llhttp_get_method(p);
  return 0;
}

static int ref_head(llhttp_t *p) {
  ref_cur(p)->minor = llhttp_get_http_minor(p);
  return 0;
}

static int ref_done(llhttp_t *p) {
  struct ref *r = p->data;
  ref_cur(p)->complete = 1;
  /* muster is no forward proxy: it closes after answering CONNECT. */
  ref_cur(p)->keepalive = llhttp_should_keep_alive(p) && p->method != HTTP_CONNECT;
  r->ncomplete++;
  return 0;
}

static void ref_parse(struct ref *r, const uint8_t *data, size_t size) {
  llhttp_t p;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = ref_begin;
  s.on_method_complete = ref_method;
  s.on_headers_complete = ref_head;
  s.on_message_complete = ref_done;
  llhttp_init(&p, HTTP_REQUEST, &s);
  p.data = r;
  const char *at = (const char *)data, *end = at + size;
  r->err = llhttp_execute(&p, at, size);
  /* An upgrade request pauses the parser; the gateway does not upgrade
   * (RFC 9110 §7.8: it may ignore the header), answers it as any request
   * and reads on as HTTP/1.1. */
  while (r->err == HPE_PAUSED_UPGRADE) {
    at = llhttp_get_error_pos(&p);
    llhttp_resume_after_upgrade(&p);
    r->err = at < end ? llhttp_execute(&p, at, (size_t)(end - at)) : HPE_OK;
  }
}

/* ---- Reading the responses ---- */

struct resp {
  int status;
  int close;    /* connection: close */
  int keep;     /* connection: keep-alive (HTTP/1.0 requests only) */
  int body;     /* a body was sent */
  size_t len;   /* its length (decoded when chunked) */
  size_t idlen; /* the x-request-id's length: bodies quote it, and a
                   client's own id may differ in length from muster's */
  int cut;      /* a chunked body the close cut short */
  int gz;       /* gzipped (gateway.compression): its length follows the id's bytes */
  int sse;      /* an admin event stream: it ends the connection */
};

/* 1 for a character of a header name as muster writes them: a token
 * character (util_token.h), letters in lower case. */
static int is_name_char(unsigned char ch) {
  return util_is_tchar(ch) && !(ch >= 'A' && ch <= 'Z');
}

/* Decodes a chunked body at p[0..n). Returns bytes used, or 0 when the
 * stream ends before its last chunk (*cut is then set). */
static size_t read_chunked(const char *p, size_t n, size_t *len, int *cut) {
  size_t off = 0;
  *len = 0;
  for (;;) {
    size_t size = 0, digits = 0;
    while (off < n && strchr("0123456789abcdef", p[off]) && p[off]) {
      size = size * 16 + (size_t)(p[off] <= '9' ? p[off] - '0' : p[off] - 'a' + 10);
      off++, digits++;
      FUZZ_CHECK(digits <= 8, "a chunk size too long");
    }
    if (off + 2 > n) {
      *cut = 1;
      return 0;
    }
    FUZZ_CHECK(digits > 0 && p[off] == '\r' && p[off + 1] == '\n', "a malformed chunk size line");
    off += 2;
    if (off + size + 2 > n) {
      *cut = 1;
      return 0;
    }
    FUZZ_CHECK(p[off + size] == '\r' && p[off + size + 1] == '\n', "a chunk without its CRLF");
    off += size + 2;
    *len += size;
    if (size == 0)
      return off;
  }
}

/* Splits what the server sent into responses, checking each. The method
 * of request i (from the reference) says whether response i has a body. */
static size_t read_responses(const char *p, size_t n, const struct ref *ref, struct resp *out) {
  size_t k = 0, finals = 0;
  int after_100 = 0;
  while (n > 0) {
    struct resp r = {0};
    char reason[64];
    int cl_count = 0, te = 0, reqid = 0;
    size_t cl = 0;
    FUZZ_CHECK(k < MAX_RESP, "too many responses");
    FUZZ_CHECK(n >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0, "not an HTTP/1.1 response: %.*s",
               (int)(n < 40 ? n : 40), p);
    const char *end = memmem(p, n, "\r\n\r\n", 4);
    FUZZ_CHECK(end != NULL, "a response head without its end");
    size_t head = (size_t)(end - p) + 4;
    FUZZ_CHECK(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
                   p[11] <= '9' && p[12] == ' ',
               "a bad status line");
    r.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    snprintf(reason, sizeof(reason), "%s\r\n", gw_reason(r.status));
    FUZZ_CHECK(strlen(reason) <= head - 13 && memcmp(p + 13, reason, strlen(reason)) == 0,
               "status %d with a wrong reason phrase", r.status);
    /* Header lines: "name: value\r\n" up to the blank line. */
    const char *h = p + 13 + strlen(reason);
    while (h < end + 2) {
      const char *eol = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);
      const char *colon = memchr(h, ':', (size_t)(eol - h));
      FUZZ_CHECK(colon && colon > h && colon[1] == ' ', "a malformed header line: %.*s",
                 (int)(eol - h), h);
      for (const char *q = h; q < colon; q++)
        FUZZ_CHECK(is_name_char((unsigned char)*q), "a bad header name: %.*s", (int)(eol - h), h);
      for (const char *q = colon + 2; q < eol; q++)
        FUZZ_CHECK((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f,
                   "a control byte in a header value: %.*s", (int)(eol - h), h);
      size_t nl = (size_t)(colon - h), vl = (size_t)(eol - colon - 2);
      const char *v = colon + 2;
#define NAME(s) (nl == sizeof(s) - 1 && memcmp(h, s, nl) == 0)
#define VALUE(s) (vl == sizeof(s) - 1 && memcmp(v, s, vl) == 0)
      if (NAME("content-length")) {
        cl_count++;
        cl = strtoul(v, NULL, 10);
        FUZZ_CHECK(vl > 0 && strspn(v, "0123456789") == vl, "content-length: %.*s", (int)vl, v);
      } else if (NAME("transfer-encoding")) {
        te++;
        FUZZ_CHECK(VALUE("chunked"), "transfer-encoding: %.*s", (int)vl, v);
      } else if (NAME("connection")) {
        FUZZ_CHECK(VALUE("close") || VALUE("keep-alive"), "connection: %.*s", (int)vl, v);
        r.close = VALUE("close");
        r.keep = VALUE("keep-alive");
      } else if (NAME("x-request-id")) {
        reqid++;
        r.idlen = vl;
        FUZZ_CHECK(vl >= 1 && vl <= 71, "x-request-id of %zu bytes", vl);
      } else if (NAME("content-type")) {
        r.sse = VALUE("text/event-stream");
      } else if (NAME("content-encoding")) {
        r.gz = VALUE("gzip");
      }
#undef NAME
#undef VALUE
      h = eol + 2;
    }
    p += head;
    n -= head;
    if (r.status == 100) {
      /* Interim: "HTTP/1.1 100 Continue" alone, for an HTTP/1.1 request
       * whose head is complete, once, before its final response. */
      FUZZ_CHECK(head == 25 && !after_100, "a second or malformed 100 Continue");
      FUZZ_CHECK(finals < ref->n && ref->req[finals].minor >= 1,
                 "100 Continue for request %zu, not an HTTP/1.1 head", finals);
      after_100 = 1;
      out[k++] = r;
      continue;
    }
    after_100 = 0;
    FUZZ_CHECK(reqid == 1, "status %d with %d x-request-id", r.status, reqid);
    /* HTTP/1.0 has no chunked encoding: a stream (an event stream) to an
     * HTTP/1.0 request has neither, and its close ends it. */
    int v10_stream = cl_count + te == 0 && finals < ref->n && ref->req[finals].minor == 0;
    FUZZ_CHECK(cl_count + te == 1 || v10_stream, "status %d with %d content-length, %d chunked",
               r.status, cl_count, te);
    int head_only = finals < ref->n && ref->req[finals].method == HTTP_HEAD;
    if (v10_stream && !head_only) {
      r.body = r.cut = 1; /* until the close */
      r.len = n;
      p += n;
      n = 0;
    } else if (!head_only && cl_count) {
      FUZZ_CHECK(cl <= n, "a body of %zu bytes cut at %zu", cl, n);
      r.body = 1;
      r.len = cl;
      p += cl;
      n -= cl;
    } else if (!head_only) {
      size_t used = read_chunked(p, n, &r.len, &r.cut);
      FUZZ_CHECK(!r.cut || r.sse, "a chunked body cut short");
      r.body = 1;
      if (r.cut)
        used = n; /* an event stream runs until the close */
      p += used;
      n -= used;
    }
    out[k++] = r;
    finals++;
  }
  return k;
}

/* ---- Checks ---- */

/* The statuses the gateway answers a request it refuses to read with. */
static int refusal(int status) {
  return status == 400 || status == 413 || status == 414 || status == 417 || status == 431 ||
         status == 500 || status == 505;
}

static void check_exchange(const struct ref *ref, const struct resp *r, size_t k) {
  size_t finals = 0, last = 0;
  for (size_t i = 0; i < k; i++)
    if (r[i].status != 100)
      finals++, last = i;
  FUZZ_CHECK(finals <= ref->ncomplete + 1, "%zu responses to %zu requests", finals, ref->ncomplete);
  size_t f = 0;
  for (size_t i = 0; i < k; i++) {
    if (r[i].status == 100)
      continue;
    /* RFC 9112 §9.3: an HTTP/1.0 connection that stays says so; an
     * HTTP/1.1 one needs not. */
    int v10 = f < ref->n && ref->req[f].minor == 0;
    FUZZ_CHECK(!r[i].keep || v10, "connection: keep-alive for HTTP/1.1 request %zu", f);
    FUZZ_CHECK(!v10 || r[i].close || r[i].keep || r[i].cut,
               "HTTP/1.0 request %zu answered and kept without connection: keep-alive", f);
    if (i != last) {
      /* An answer to a complete keep-alive request; the connection stays. */
      FUZZ_CHECK(!r[i].close && !r[i].cut, "response %zu closes but is not the last", f);
      FUZZ_CHECK(f < ref->ncomplete && ref->req[f].keepalive,
                 "request %zu answered and the connection kept, but it was not a complete "
                 "keep-alive request",
                 f);
    }
    f++;
  }
  if (finals == 0 || (!r[last].close && !r[last].cut)) {
    /* Still open when the client left: everything was answered. */
    FUZZ_CHECK(finals == ref->ncomplete && ref->err == HPE_OK,
               "%zu of %zu requests answered, llhttp says %s, and the gateway kept the "
               "connection without a word",
               finals, ref->ncomplete, llhttp_errno_name(ref->err));
    if (finals > 0)
      FUZZ_CHECK(ref->req[finals - 1].keepalive, "a non-keep-alive request answered keep-alive");
  } else if (r[last].close && !r[last].sse) {
    size_t i = finals - 1; /* the request the last response answers */
    if (i >= ref->ncomplete || ref->req[i].keepalive)
      FUZZ_CHECK(refusal(r[last].status), "connection closed after %d for request %zu",
                 r[last].status, i);
  }
}

static void check_same(const struct resp *a, size_t ka, const struct resp *b, size_t kb,
                       size_t piece) {
  int same = ka == kb;
  for (size_t i = 0; same && i < ka; i++)
    same = (a[i].status == b[i].status || (refusal(a[i].status) && refusal(b[i].status))) &&
           a[i].close == b[i].close && a[i].body == b[i].body && a[i].gz == b[i].gz &&
           (a[i].cut || b[i].cut || refusal(a[i].status) || a[i].gz ||
            a[i].len + b[i].idlen == b[i].len + a[i].idlen);
  if (!same) {
    fprintf(stderr, "sent whole:\n");
    for (size_t i = 0; i < ka; i++)
      fprintf(stderr, "  %d close=%d body=%d len=%zu\n", a[i].status, a[i].close, a[i].body,
              a[i].len);
    fprintf(stderr, "sent in pieces of %zu bytes:\n", piece);
    for (size_t i = 0; i < kb; i++)
      fprintf(stderr, "  %d close=%d body=%d len=%zu\n", b[i].status, b[i].close, b[i].body,
              b[i].len);
  }
  FUZZ_CHECK(same, "the responses depend on how the bytes were cut");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct resp whole[MAX_RESP], split[MAX_RESP];
  static int verbose = -1; /* FUZZ_HTTP_VERBOSE set: print what came back */
  struct ref ref;
  struct ipc_buf a, b;
  if (loop == NULL)
    setup();
  /* Opening with HTTP/2's preface is HTTP/2 with prior knowledge: fuzz_h2's. */
  if (size >= GW_H2_PREFACE_LEN && memcmp(data, GW_H2_PREFACE, GW_H2_PREFACE_LEN) == 0)
    return 0;
  uint32_t h = fuzz_hash(data, size);
  const struct sockaddr_in *sa = (h & 7) == 0 ? &admin_addr : &gateway_addr;
  size_t piece = (h >> 3) % 16 + 1, min_piece = (size + 63) / 64;
  if (piece < min_piece)
    piece = min_piece; /* at most 64 pieces: big inputs stay fast */
  memset(&ref, 0, sizeof(ref));
  ref_parse(&ref, data, size);

  if (verbose < 0)
    verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
  /* One input in four to the gateway goes with gateway.proxy_protocol on,
   * after a PROXY header: its answers must be those of the bytes alone,
   * whole and in pieces (some of them cutting the header). */
  static const char pp_head[] = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n";
  int pp = sa == &gateway_addr && ((h >> 8) & 3) == 0;
  uint8_t *sent = (uint8_t *)data;
  size_t nsent = size;
  if (pp) {
    nsent = sizeof(pp_head) - 1 + size;
    FUZZ_CHECK((sent = malloc(nsent)) != NULL, "out of memory");
    memcpy(sent, pp_head, sizeof(pp_head) - 1);
    memcpy(sent + sizeof(pp_head) - 1, data, size);
    gw_cfg->gateway.proxy_protocol = 1; /* read at accept */
  }
  exchange(sa, sent, nsent, nsent ? nsent : 1, &a);
  if (verbose)
    fprintf(stderr, "-- whole:\n%.*s\n", (int)a.len, a.data ? a.data : "");
  size_t ka = read_responses(a.data, a.len, &ref, whole);
  check_exchange(&ref, whole, ka);
  exchange(sa, sent, nsent, piece, &b);
  gw_cfg->gateway.proxy_protocol = 0;
  if (pp)
    free(sent);
  if (verbose)
    fprintf(stderr, "-- in pieces of %zu:\n%.*s\n--\n", piece, (int)b.len, b.data ? b.data : "");
  size_t kb = read_responses(b.data, b.len, &ref, split);
  check_exchange(&ref, split, kb);
  check_same(whole, ka, split, kb, piece);

  ipc_buf_free(&a);
  ipc_buf_free(&b);
  free(ref.req);
  return 0;
}
