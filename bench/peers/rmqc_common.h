/* Shared helpers of the rabbitmq-c benchmark peers (rmqc_rpc_server.c, rmqc_rpc_client.c):
 * connecting from an amqp:// URL, reporting failures the way our own programs do, and the
 * Fibonacci function both sides must agree on. Header-only so each peer stays one file to build. */
#ifndef BENCH_PEERS_RMQC_COMMON_H
#define BENCH_PEERS_RMQC_COMMON_H

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest n whose fib(n) fits in 128 bits with a margin (fib(186) is the last that fits). */
#define RMQC_FIB_U128_N 180
/* The largest n a request may ask for, as the Go and pika peers (fib(10000) has 2090 digits). */
#define RMQC_FIB_MAX_N 10000

/* rabbitmq-c's own 128-bit type is not part of ISO C; __extension__ keeps -Wpedantic quiet. */
__extension__ typedef unsigned __int128 rmqc_u128;

static void rmqc_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void rmqc_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(" [!] Error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* Turns an amqp_rpc_reply_t that is not NORMAL into a message naming the cause and exits. */
static void rmqc_check_reply(amqp_rpc_reply_t r, const char *what) {
  switch (r.reply_type) {
  case AMQP_RESPONSE_NORMAL:
    return;
  case AMQP_RESPONSE_NONE:
    rmqc_die("%s: missing RPC reply type", what);
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    rmqc_die("%s: %s", what, amqp_error_string2(r.library_error));
  case AMQP_RESPONSE_SERVER_EXCEPTION:
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      const amqp_connection_close_t *m = (const amqp_connection_close_t *)r.reply.decoded;
      rmqc_die("%s: connection closed by broker: %u %.*s", what, m->reply_code,
               (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    }
    if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      const amqp_channel_close_t *m = (const amqp_channel_close_t *)r.reply.decoded;
      rmqc_die("%s: channel closed by broker: %u %.*s", what, m->reply_code,
               (int)m->reply_text.len, (const char *)m->reply_text.bytes);
    }
    rmqc_die("%s: unexpected server method 0x%08X", what, r.reply.id);
  }
  rmqc_die("%s: unknown reply type %d", what, (int)r.reply_type);
}

/* Opens a TCP connection, logs in and opens channel 1. `url` is amqp://user:pass@host:port/vhost. */
static amqp_connection_state_t rmqc_connect(const char *url) {
  struct amqp_connection_info info;
  char *copy = strdup(url); /* amqp_parse_url writes into its argument */
  amqp_default_connection_info(&info);
  if (copy == NULL || amqp_parse_url(copy, &info) != AMQP_STATUS_OK)
    rmqc_die("cannot parse URL '%s'", url);
  if (info.ssl)
    rmqc_die("amqps:// is not supported by this peer");
  /* "amqp://host:port/" names the empty vhost by the URI spec, but every client (and our URL
   * files) mean the default one. */
  const char *vhost = (info.vhost == NULL || info.vhost[0] == '\0') ? "/" : info.vhost;

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t *sock = amqp_tcp_socket_new(conn);
  if (sock == NULL)
    rmqc_die("cannot create a TCP socket");
  int rc = amqp_socket_open(sock, info.host, info.port);
  if (rc != AMQP_STATUS_OK)
    rmqc_die("cannot connect to %s:%d: %s", info.host, info.port, amqp_error_string2(rc));
  rmqc_check_reply(amqp_login(conn, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                              info.password),
                   "login");
  amqp_channel_open(conn, 1);
  rmqc_check_reply(amqp_get_rpc_reply(conn), "channel.open");
  free(copy);
  return conn;
}

/* Handles a frame that amqp_consume_message could not turn into a delivery (it said
 * AMQP_STATUS_UNEXPECTED_STATE): acks and returns are skipped, a close is fatal. */
static void rmqc_handle_stray_frame(amqp_connection_state_t conn) {
  amqp_frame_t frame;
  int rc = amqp_simple_wait_frame(conn, &frame);
  if (rc != AMQP_STATUS_OK)
    rmqc_die("reading a frame: %s", amqp_error_string2(rc));
  if (frame.frame_type != AMQP_FRAME_METHOD)
    return;
  switch (frame.payload.method.id) {
  case AMQP_CHANNEL_CLOSE_METHOD: {
    const amqp_channel_close_t *m = (const amqp_channel_close_t *)frame.payload.method.decoded;
    rmqc_die("channel closed by broker: %u %.*s", m->reply_code, (int)m->reply_text.len,
             (const char *)m->reply_text.bytes);
  }
  case AMQP_CONNECTION_CLOSE_METHOD: {
    const amqp_connection_close_t *m =
        (const amqp_connection_close_t *)frame.payload.method.decoded;
    rmqc_die("connection closed by broker: %u %.*s", m->reply_code, (int)m->reply_text.len,
             (const char *)m->reply_text.bytes);
  }
  case AMQP_BASIC_RETURN_METHOD: {
    /* A returned message still has its header and body to drain. */
    amqp_message_t msg;
    amqp_rpc_reply_t r = amqp_read_message(conn, frame.channel, &msg, 0);
    rmqc_check_reply(r, "reading a returned message");
    amqp_destroy_message(&msg);
    return;
  }
  default:
    return;
  }
}

/* fib(n) for n <= RMQC_FIB_U128_N in 128 bits, as decimal text in buf (at least 48 bytes). */
static void rmqc_fib_u128_text(unsigned n, char *buf, size_t size) {
  rmqc_u128 a = 0, b = 1;
  for (unsigned i = 0; i < n; ++i) {
    rmqc_u128 t = a + b;
    a = b;
    b = t;
  }
  char tmp[48];
  size_t len = 0;
  do {
    tmp[len++] = (char)('0' + (unsigned)(a % 10));
    a /= 10;
  } while (a != 0 && len < sizeof tmp);
  size_t i = 0;
  for (; i < len && i + 1 < size; ++i)
    buf[i] = tmp[len - 1 - i];
  buf[i] = '\0';
}

/* Larger n (the message-size table's fib(10000) point, issue 19): fast doubling, as our server
 * computes it, on numbers in base 10^9 limbs (least significant first), so that the decimal text
 * needs no division. Schoolbook products: fib(10000) is 233 limbs. */
#define RMQC_LIMB 1000000000u
typedef struct {
  uint32_t *d;
  size_t n; /* limbs in use; 0 is the number 0 */
} rmqc_big;

static rmqc_big rmqc_big_new(size_t cap) {
  rmqc_big x = {calloc(cap + 1, sizeof(uint32_t)), 0};
  if (x.d == NULL)
    rmqc_die("out of memory for fib(n)");
  return x;
}

static void rmqc_big_trim(rmqc_big *x) {
  while (x->n > 0 && x->d[x->n - 1] == 0)
    --x->n;
}

/* r = x * y (r distinct from both, room for x.n + y.n limbs). */
static void rmqc_big_mul(rmqc_big *r, const rmqc_big *x, const rmqc_big *y) {
  memset(r->d, 0, (x->n + y->n + 1) * sizeof(uint32_t));
  for (size_t i = 0; i < x->n; ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < y->n; ++j) {
      uint64_t cur = r->d[i + j] + (uint64_t)x->d[i] * y->d[j] + carry;
      r->d[i + j] = (uint32_t)(cur % RMQC_LIMB);
      carry = cur / RMQC_LIMB;
    }
    r->d[i + y->n] = (uint32_t)carry;
  }
  r->n = x->n + y->n;
  rmqc_big_trim(r);
}

/* r = k*x + y (k 1 or 2; r may be y), or with sign < 0: r = k*x - y (k*x >= y). */
static void rmqc_big_lin(rmqc_big *r, unsigned k, const rmqc_big *x, int sign, const rmqc_big *y) {
  size_t n = x->n > y->n ? x->n : y->n;
  int64_t carry = 0;
  for (size_t i = 0; i < n; ++i) {
    int64_t xi = i < x->n ? (int64_t)k * x->d[i] : 0;
    int64_t yi = i < y->n ? sign * (int64_t)y->d[i] : 0;
    int64_t cur = xi + yi + carry;
    carry = cur < 0 ? -1 : cur / RMQC_LIMB;
    r->d[i] = (uint32_t)(cur - carry * (int64_t)RMQC_LIMB);
  }
  r->d[n] = (uint32_t)carry;
  r->n = n + 1;
  rmqc_big_trim(r);
}

/* fib(n) as malloc'd decimal text (the caller frees it). */
static char *rmqc_fib_big_text(unsigned n) {
  size_t cap = (size_t)n / 40 + 8; /* fib(n) has ~0.209 n digits: n / 43 limbs */
  rmqc_big a = rmqc_big_new(cap), b = rmqc_big_new(cap);
  rmqc_big c = rmqc_big_new(2 * cap), d = rmqc_big_new(2 * cap), t = rmqc_big_new(2 * cap);
  b.d[0] = 1;
  b.n = 1;
  int top = 31;
  while (top >= 0 && ((n >> top) & 1u) == 0)
    --top;
  for (int bit = top; bit >= 0; --bit) {
    /* a = F(k), b = F(k+1): F(2k) = a(2b - a), F(2k+1) = a^2 + b^2. */
    rmqc_big_lin(&t, 2, &b, -1, &a);
    rmqc_big_mul(&c, &a, &t);
    rmqc_big_mul(&d, &a, &a);
    rmqc_big_mul(&t, &b, &b);
    rmqc_big_lin(&d, 1, &t, 1, &d);
    if ((n >> bit) & 1u) {
      rmqc_big_lin(&b, 1, &c, 1, &d); /* F(2k+2) = F(2k) + F(2k+1) */
      memcpy(a.d, d.d, (d.n + 1) * sizeof(uint32_t));
      a.n = d.n;
    } else {
      memcpy(a.d, c.d, (c.n + 1) * sizeof(uint32_t));
      a.n = c.n;
      memcpy(b.d, d.d, (d.n + 1) * sizeof(uint32_t));
      b.n = d.n;
    }
  }
  char *text = malloc(a.n * 9 + 2);
  if (text == NULL)
    rmqc_die("out of memory for fib(n)");
  if (a.n == 0) {
    strcpy(text, "0");
  } else {
    int len = sprintf(text, "%u", a.d[a.n - 1]);
    for (size_t i = a.n - 1; i-- > 0;)
      len += sprintf(text + len, "%09u", a.d[i]);
  }
  free(a.d);
  free(b.d);
  free(c.d);
  free(d.d);
  free(t.d);
  return text;
}

/* fib(n) for n <= RMQC_FIB_MAX_N as decimal text: in buf (at least 48 bytes) for
 * n <= RMQC_FIB_U128_N, with no allocation (the Fibonacci matrix's fib(20) stays the plain loop it was), else a malloc'd
 * string also stored in *heap for the caller to free. */
static const char *rmqc_fib_text(unsigned n, char *buf, size_t size, char **heap) {
  *heap = NULL;
  if (n <= RMQC_FIB_U128_N) {
    rmqc_fib_u128_text(n, buf, size);
    return buf;
  }
  *heap = rmqc_fib_big_text(n);
  return *heap;
}

#endif
