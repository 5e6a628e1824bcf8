/* Fibonacci RPC benchmark client on rabbitmq-c: the reference our bench/rpc_bench is compared
 * with (issue 7). Same work as ours: one connection and channel, an exclusive server-named reply
 * queue (or direct reply-to) consumed with no_ack, requests published to --queue as our client
 * publishes them (reply_to, a correlation_id, expiration = the call timeout in ms so that the
 * broker drops a request nobody took in time, mandatory so that an unroutable one comes back),
 * --inflight calls kept outstanding, replies matched by correlation_id and checked against
 * fib(n). The first --warmup calls are not measured. --bare: reply_to and correlation_id only
 * (the broker then does less per request: no per-message TTL, no mandatory check).
 *
 *   rmqc_rpc_client --url URL [--requests 10000] [--inflight 1] [--n 10] [--warmup 1000]
 *                   [--queue rpc_queue] [--direct-reply-to] [--json] [--timeout 30] [--bare]
 *                   [--size B]
 * --size B: echo calls for the message-size runs (issue 19): a B-byte body 'a'..'z' repeated,
 * expected back as is from an echo server.
 * Prints one line: rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
 */
/* strdup, sigaction, clock_gettime under strict ISO C11. */
#define _POSIX_C_SOURCE 200809L

#include "rmqc_common.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

static void usage(void) {
  fprintf(stderr, "usage: rmqc_rpc_client --url URL [--requests N] [--inflight K] [--n N]\n"
                  "       [--warmup W] [--queue NAME] [--direct-reply-to] [--json] [--timeout S]\n"
                  "       [--bare]\n");
  exit(2);
}

static long arg_long(const char *s, long lo, long hi) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi)
    usage();
  return v;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double pct_us(const uint64_t *sorted, size_t count, double p) {
  if (count == 0)
    return 0.0;
  size_t rank = (size_t)(p * (double)count + 0.999999);
  if (rank < 1)
    rank = 1;
  if (rank > count)
    rank = count;
  return (double)sorted[rank - 1] / 1000.0;
}

struct client {
  amqp_connection_state_t conn;
  amqp_bytes_t queue;
  amqp_bytes_t reply_to;
  amqp_bytes_t body;
  int bare;
  char expiration[24];
};

static void publish(struct client *c, long idx) {
  char corr[24];
  int len = snprintf(corr, sizeof corr, "%ld", idx);
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  props._flags = AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
  props.reply_to = c->reply_to;
  props.correlation_id.bytes = corr;
  props.correlation_id.len = (size_t)len;
  if (!c->bare) {
    props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    props.expiration = amqp_cstring_bytes(c->expiration);
  }
  int rc = amqp_basic_publish(c->conn, 1, amqp_empty_bytes, c->queue, c->bare ? 0 : 1, 0, &props,
                              c->body);
  if (rc != AMQP_STATUS_OK)
    rmqc_die("basic.publish: %s", amqp_error_string2(rc));
}

/* The request index carried in a correlation id, or -1 if it is not one of ours. */
static long corr_index(const amqp_envelope_t *env, long total) {
  const amqp_basic_properties_t *p = &env->message.properties;
  if (!(p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) || p->correlation_id.len == 0 ||
      p->correlation_id.len > 18)
    return -1;
  long v = 0;
  const char *s = (const char *)p->correlation_id.bytes;
  for (size_t i = 0; i < p->correlation_id.len; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v < total ? v : -1;
}

int main(int argc, char **argv) {
  const char *url = NULL;
  const char *queue = "rpc_queue";
  long requests = 10000, inflight = 1, n = 10, warmup = 1000, timeout_s = 30, size = -1;
  int direct = 0, json = 0, bare = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (strcmp(a, "--url") == 0 && more) url = argv[++i];
    else if (strcmp(a, "--queue") == 0 && more) queue = argv[++i];
    else if (strcmp(a, "--requests") == 0 && more) requests = arg_long(argv[++i], 1, 100000000);
    else if (strcmp(a, "--inflight") == 0 && more) inflight = arg_long(argv[++i], 1, 65535);
    else if (strcmp(a, "--n") == 0 && more) n = arg_long(argv[++i], 0, RMQC_FIB_MAX_N);
    else if (strcmp(a, "--warmup") == 0 && more) warmup = arg_long(argv[++i], 0, 100000000);
    else if (strcmp(a, "--timeout") == 0 && more) timeout_s = arg_long(argv[++i], 1, 86400);
    else if (strcmp(a, "--size") == 0 && more) size = arg_long(argv[++i], 0, 128L << 20);
    else if (strcmp(a, "--direct-reply-to") == 0) direct = 1;
    else if (strcmp(a, "--json") == 0) json = 1;
    else if (strcmp(a, "--bare") == 0) bare = 1;
    else usage();
  }
  if (url == NULL)
    usage();

  struct client c;
  c.conn = rmqc_connect(url);
  c.queue = amqp_cstring_bytes(queue);
  c.bare = bare;
  snprintf(c.expiration, sizeof c.expiration, "%ld", timeout_s * 1000);
  char nbuf[24], fib_text[64];
  const char *expected = fib_text;
  size_t expected_len;
  if (size >= 0) {
    char *echo = malloc((size_t)size + 1);
    if (echo == NULL)
      rmqc_die("out of memory for a %ld-byte body", size);
    for (long i = 0; i < size; ++i)
      echo[i] = (char)('a' + i % 26);
    c.body.bytes = echo;
    c.body.len = (size_t)size;
    expected = echo;
    expected_len = (size_t)size;
  } else {
    snprintf(nbuf, sizeof nbuf, "%ld", n);
    c.body = amqp_cstring_bytes(nbuf);
    char *heap; /* fib(n) beyond 128 bits: left to the exit, as the echo body is */
    expected = rmqc_fib_text((unsigned)n, fib_text, sizeof fib_text, &heap);
    expected_len = strlen(expected);
  }

  if (direct) {
    c.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to");
  } else {
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(c.conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    rmqc_check_reply(amqp_get_rpc_reply(c.conn), "queue.declare (reply queue)");
    c.reply_to = amqp_bytes_malloc_dup(ok->queue);
  }
  amqp_basic_consume(c.conn, 1, c.reply_to, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
  rmqc_check_reply(amqp_get_rpc_reply(c.conn), "basic.consume (reply queue)");

  long total = warmup + requests;
  uint64_t *sent_at = calloc((size_t)total, sizeof *sent_at);
  uint64_t *lat = calloc((size_t)requests, sizeof *lat);
  unsigned char *answered = calloc((size_t)total, 1);
  if (sent_at == NULL || lat == NULL || answered == NULL)
    rmqc_die("out of memory for %ld requests", total);

  long sent = 0, done = 0, measured = 0, stray = 0;
  uint64_t t0 = now_ns(), c0 = cpu_ns();
  for (; sent < total && sent < inflight; ++sent) {
    sent_at[sent] = now_ns();
    publish(&c, sent);
  }
  while (done < total) {
    if (done == warmup && measured == 0) {
      t0 = now_ns();
      c0 = cpu_ns();
    }
    struct timeval tv = {timeout_s, 0};
    amqp_envelope_t env;
    amqp_maybe_release_buffers(c.conn);
    amqp_rpc_reply_t r = amqp_consume_message(c.conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      if (r.library_error == AMQP_STATUS_TIMEOUT)
        rmqc_die("no reply within %ld s (%ld of %ld answered)", timeout_s, done, total);
      if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        rmqc_handle_stray_frame(c.conn);
        continue;
      }
    }
    rmqc_check_reply(r, "waiting for replies");
    uint64_t t = now_ns();
    long idx = corr_index(&env, total);
    if (idx < 0 || answered[idx]) {
      ++stray; /* not ours, or a duplicate: the RPC pattern drops these */
      amqp_destroy_envelope(&env);
      continue;
    }
    if (env.message.body.len != expected_len ||
        memcmp(env.message.body.bytes, expected, expected_len) != 0)
      rmqc_die("wrong reply (%zu bytes, expected %zu): '%.*s'", env.message.body.len, expected_len,
               (int)(env.message.body.len < 80 ? env.message.body.len : 80),
               (const char *)env.message.body.bytes);
    amqp_destroy_envelope(&env);
    answered[idx] = 1;
    ++done;
    if (idx >= warmup)
      lat[measured++] = t - sent_at[idx];
    if (sent < total) {
      sent_at[sent] = now_ns();
      publish(&c, sent);
      ++sent;
    }
  }
  uint64_t elapsed = now_ns() - t0, cpu = cpu_ns() - c0;

  qsort(lat, (size_t)measured, sizeof *lat, cmp_u64);
  double rps = elapsed ? (double)measured * 1e9 / (double)elapsed : 0.0;
  double p50 = pct_us(lat, (size_t)measured, 0.50), p99 = pct_us(lat, (size_t)measured, 0.99),
         p999 = pct_us(lat, (size_t)measured, 0.999);
  double cpu_per = measured ? (double)cpu / 1000.0 / (double)measured : 0.0;
  if (stray)
    fprintf(stderr, " [x] %ld replies with unknown correlation ids dropped\n", stray);
  if (json)
    printf("{\"client\": \"rabbitmq-c\", \"rpc/s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"cpu_us_per_call\": %.2f, \"requests\": %ld}\n",
           rps, p50, p99, p999, cpu_per, measured);
  else
    printf("rpc/s=%.1f p50_us=%.1f p99_us=%.1f p999_us=%.1f cpu_us_per_call=%.2f requests=%ld\n",
           rps, p50, p99, p999, cpu_per, measured);

  amqp_channel_close(c.conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c.conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c.conn);
  free(sent_at);
  free(lat);
  free(answered);
  return 0;
}
