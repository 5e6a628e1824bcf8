/* Shared helpers of the rabbitmq-c benchmark peers (rmqc_rpc_server.c, rmqc_rpc_client.c):
 * connecting from an amqp:// URL, reporting failures the way our own programs do, and the
 * Fibonacci function both sides must agree on. Header-only so each peer stays one file to build. */
#ifndef BENCH_PEERS_RMQC_COMMON_H
#define BENCH_PEERS_RMQC_COMMON_H

#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest n whose fib(n) fits in 128 bits with a margin (fib(186) is the last that fits). */
#define RMQC_FIB_MAX_N 180

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

/* fib(n) for n <= RMQC_FIB_MAX_N, as decimal text in buf (at least 48 bytes). */
static void rmqc_fib_text(unsigned n, char *buf, size_t size) {
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

#endif
