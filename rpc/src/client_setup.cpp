#include "client_setup.hpp"

#include <boost/asio/steady_timer.hpp>

namespace rpc::detail {

namespace {

constexpr const char* direct_reply_to_queue = "amq.rabbitmq.reply-to";

// One set-up in progress: each step is a member, so that the chain reads top to bottom.
struct setup_op : std::enable_shared_from_this<setup_op> {
    // Built in place: any_completion_handler's move assignment (Boost 1.81) recurses forever.
    setup_op(std::shared_ptr<amqp::connection> c, setup_hooks h, setup_handler d)
        : conn(std::move(c)), hooks(std::move(h)), done(std::move(d)) {}

    std::shared_ptr<amqp::connection> conn;
    setup_hooks hooks;
    setup_handler done;
    amqp::channel channel;
    // After the open (bounded by the connection's own connection_timeout), the steps that follow
    // are bounded by it too: a broker that never answers one must not hold start() or the calls
    // waiting for it for ever.
    boost::asio::steady_timer timer{conn->get_executor()};
    const char* waiting_for = "";  // the step in progress, for the timeout's text
    bool timed_out = false;

    void fail(error_code ec, const char* step) {
        timer.cancel();
        if (timed_out) {
            std::move(done)(setup_result{
                amqp::make_error_code(amqp::client_error::connect_timeout), {}, {},
                std::string(step) + "the broker did not answer " + waiting_for + " within " +
                    std::to_string(conn->options().connection_timeout.count()) + " ms (connection_timeout)"});
            return;
        }
        // The connection's own reason (the broker's close, "cannot connect to h:p (...)") when it has one.
        const auto r = conn->last_close_reason();
        std::move(done)(setup_result{ec, {}, {}, std::string(step) + (r.code ? r.to_string() : ec.message())});
    }

    void run() {
        conn->async_open([self = shared_from_this()](error_code ec) {
            if (ec) return self->fail(ec, "");
            self->timer.expires_after(self->conn->options().connection_timeout);
            self->timer.async_wait([self](error_code e) {
                if (e) return;
                // Closing the socket fails the pending step, which reports the timeout.
                self->timed_out = true;
                self->conn->async_close(std::chrono::steady_clock::now(), [self](error_code) {});
            });
            self->open_channel();
        });
    }
    void open_channel() {
        waiting_for = "channel.open";
        conn->async_open_channel([self = shared_from_this()](error_code ec, amqp::channel ch) {
            if (ec) return self->fail(ec, "cannot open a channel: ");
            self->channel = std::move(ch);
            self->hooks.prepare_channel(self->channel);
            if (self->hooks.confirm) return self->confirm_select();
            self->reply_queue();
        });
    }
    void confirm_select() {
        waiting_for = "confirm.select";
        channel.async_confirm_select([self = shared_from_this()](error_code ec) {
            if (ec) return self->fail(ec, "cannot put the channel in confirm mode: ");
            self->reply_queue();
        });
    }
    void reply_queue() {
        if (hooks.direct_reply_to) return consume(direct_reply_to_queue);
        declare();
    }
    void declare() {
        waiting_for = "queue.declare";
        amqp::queue_options q;
        q.exclusive = true;  // server-named, gone with our connection
        channel.async_declare_queue(std::move(q), [self = shared_from_this()](error_code ec, amqp::queue_info info) {
            if (ec) return self->fail(ec, "cannot declare the reply queue: ");
            self->consume(std::move(info.name));
        });
    }
    void consume(std::string queue) {
        waiting_for = "basic.consume";
        amqp::consume_options c;
        c.queue = queue;
        c.no_ack = true;  // as the tutorial (auto_ack=True); required for direct reply-to
        channel.async_consume(std::move(c), hooks.on_reply,
                              [self = shared_from_this(), queue](error_code ec, std::string) mutable {
                                  if (ec) return self->fail(ec, "cannot consume replies: ");
                                  self->timer.cancel();
                                  std::move(self->done)(setup_result{{}, self->channel, std::move(queue), {}});
                              });
    }
};

}  // namespace

void set_up(std::shared_ptr<amqp::connection> conn, setup_hooks hooks, setup_handler done) {
    std::make_shared<setup_op>(std::move(conn), std::move(hooks), std::move(done))->run();
}

}  // namespace rpc::detail
