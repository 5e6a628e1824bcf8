#include "client_setup.hpp"

#include "setup_deadline.hpp"

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
    setup_deadline deadline{conn->get_executor()};  // the steps after the open

    void fail(error_code ec, const char* step) {
        deadline.cancel();
        if (deadline.expired())
            return std::move(done)(setup_result{setup_deadline::error(), {}, {}, std::string(step) + deadline.why()});
        // The connection's own reason (the broker's close, "cannot connect to h:p (...)") when it has one.
        const auto r = conn->last_close_reason();
        std::move(done)(setup_result{ec, {}, {}, std::string(step) + (r.code ? r.to_string() : ec.message())});
    }

    void run() {
        conn->async_open([self = shared_from_this()](error_code ec) {
            if (ec) return self->fail(ec, "");
            self->deadline.arm(*self->conn, self);
            self->open_channel();
        });
    }
    void open_channel() {
        deadline.step("channel.open");
        conn->async_open_channel([self = shared_from_this()](error_code ec, amqp::channel ch) {
            if (ec) return self->fail(ec, "cannot open a channel: ");
            self->channel = std::move(ch);
            self->hooks.prepare_channel(self->channel);
            if (self->hooks.confirm) return self->confirm_select();
            self->reply_queue();
        });
    }
    void confirm_select() {
        deadline.step("confirm.select");
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
        deadline.step("queue.declare");
        amqp::queue_options q;
        q.exclusive = true;  // server-named, gone with our connection
        channel.async_declare_queue(std::move(q), [self = shared_from_this()](error_code ec, amqp::queue_info info) {
            if (ec) return self->fail(ec, "cannot declare the reply queue: ");
            self->consume(std::move(info.name));
        });
    }
    void consume(std::string queue) {
        deadline.step("basic.consume");
        amqp::consume_options c;
        c.queue = queue;
        c.no_ack = true;  // as the tutorial (auto_ack=True); required for direct reply-to
        channel.async_consume(std::move(c), hooks.on_reply,
                              [self = shared_from_this(), queue](error_code ec, std::string) mutable {
                                  if (ec) return self->fail(ec, "cannot consume replies: ");
                                  self->deadline.cancel();
                                  std::move(self->done)(setup_result{{}, self->channel, std::move(queue), {}});
                              });
    }
};

}  // namespace

void set_up(std::shared_ptr<amqp::connection> conn, setup_hooks hooks, setup_handler done) {
    std::make_shared<setup_op>(std::move(conn), std::move(hooks), std::move(done))->run();
}

}  // namespace rpc::detail
