/* Fibonacci RPC server on rabbitmq-c: the reference peer our RPC server is benchmarked against
 * (issue 7). Same work as ours: consume --queue with basic.qos --prefetch, compute fib(n), publish
 * the decimal text to reply_to through the default exchange with the request's correlation_id,
 * then ack. Bad requests (not a number, n > 10000) get {"response": null, "error": "..."} as
 * application/json. Exits 0 on SIGINT/SIGTERM.
 *
 *   rmqc_rpc_server --url amqp://guest:guest@127.0.0.1:5672/ [--queue rpc_queue] [--prefetch 1]
 *                   [--echo]
 * --echo: reply with the request body as it came (the message-size runs, issue 19).
 */
/* strdup, sigaction, clock_gettime under strict ISO C11. */
#define _POSIX_C_SOURCE 200809L

#include "rmqc_common.h"

#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t stop_requested = 0;
static int echo_mode = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(void) {
  fprintf(stderr, "usage: rmqc_rpc_server --url URL [--queue NAME] [--prefetch P] [--echo]\n");
  exit(2);
}

/* Parses a request body: decimal digits only (surrounding blanks allowed, as Python's int()). */
static int parse_n(amqp_bytes_t body, unsigned *n) {
  const char *p = (const char *)body.bytes;
  size_t i = 0, len = body.len;
  unsigned long v = 0;
  int digits = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r'))
    ++i;
  for (; i < len && p[i] >= '0' && p[i] <= '9'; ++i, ++digits) {
    v = v * 10 + (unsigned long)(p[i] - '0');
    if (v > 1000000)
      return -2; /* too big: still a number, reported as out of range */
  }
  while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '\r'))
    ++i;
  if (digits == 0 || i != len)
    return -1;
  *n = (unsigned)v;
  return 0;
}

static void reply(amqp_connection_state_t conn, const amqp_basic_properties_t *req,
                  amqp_bytes_t body, int is_error) {
  amqp_basic_properties_t props;
  memset(&props, 0, sizeof props);
  if (req->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
    props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
    props.correlation_id = req->correlation_id;
  }
  if (is_error) {
    props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
  }
  int rc = amqp_basic_publish(conn, 1, amqp_empty_bytes, req->reply_to, 0, 0, &props, body);
  if (rc != AMQP_STATUS_OK)
    rmqc_die("basic.publish of a reply: %s", amqp_error_string2(rc));
}

static void serve_one(amqp_connection_state_t conn, const amqp_envelope_t *env) {
  const amqp_basic_properties_t *props = &env->message.properties;
  if ((props->_flags & AMQP_BASIC_REPLY_TO_FLAG) && props->reply_to.len > 0) {
    unsigned n = 0;
    int parsed = echo_mode ? 0 : parse_n(env->message.body, &n);
    char text[128];
    if (echo_mode) {
      reply(conn, props, env->message.body, 0);
    } else if (parsed == 0 && n <= RMQC_FIB_MAX_N) {
      char *heap;
      reply(conn, props, amqp_cstring_bytes(rmqc_fib_text(n, text, sizeof text, &heap)), 0);
      free(heap);
    } else if (parsed == -1) {
      reply(conn, props, amqp_cstring_bytes("{\"response\": null, \"error\": \"request is not a number\"}"), 1);
    } else {
      snprintf(text, sizeof text,
               "{\"response\": null, \"error\": \"n out of range (0..%d)\"}", RMQC_FIB_MAX_N);
      reply(conn, props, amqp_cstring_bytes(text), 1);
    }
  }
  /* Acked after the reply is written, as the tutorial does: a crash before this redelivers. */
  int rc = amqp_basic_ack(conn, 1, env->delivery_tag, 0);
  if (rc != AMQP_STATUS_OK)
    rmqc_die("basic.ack: %s", amqp_error_string2(rc));
}

int main(int argc, char **argv) {
  const char *url = NULL;
  const char *queue = "rpc_queue";
  long prefetch = 1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
      url = argv[++i];
    else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc)
      queue = argv[++i];
    else if (strcmp(argv[i], "--prefetch") == 0 && i + 1 < argc)
      prefetch = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--echo") == 0)
      echo_mode = 1;
    else
      usage();
  }
  if (url == NULL || prefetch < 0 || prefetch > 65535)
    usage();

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: let a blocking poll return early */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  amqp_connection_state_t conn = rmqc_connect(url);
  /* Declared like the tutorial's server (not durable, not exclusive) so every server agrees. */
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 0, 0, 0, amqp_empty_table);
  rmqc_check_reply(amqp_get_rpc_reply(conn), "queue.declare");
  amqp_basic_qos(conn, 1, 0, (uint16_t)prefetch, 0);
  rmqc_check_reply(amqp_get_rpc_reply(conn), "basic.qos");
  amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  rmqc_check_reply(amqp_get_rpc_reply(conn), "basic.consume");
  fprintf(stderr, " [x] Awaiting RPC requests on '%s' (prefetch %ld)\n", queue, prefetch);

  /* The timeout only bounds how long a signal can go unnoticed. */
  while (!stop_requested) {
    struct timeval tv = {0, 200000};
    amqp_envelope_t env;
    amqp_maybe_release_buffers(conn);
    amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      if (r.library_error == AMQP_STATUS_TIMEOUT)
        continue;
      if (r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        rmqc_handle_stray_frame(conn);
        continue;
      }
      if (stop_requested)
        break;
    }
    rmqc_check_reply(r, "consuming requests");
    serve_one(conn, &env);
    amqp_destroy_envelope(&env);
  }

  /* Unacked prefetched requests go back to the queue when the channel closes. */
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  fprintf(stderr, " [x] Stopped\n");
  return 0;
}
