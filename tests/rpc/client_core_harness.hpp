// A fake-clock driver of the client's core, shared by its unit tests: events in, actions kept.
#pragma once

#include <rpc/client_core.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace core_test {

using clock = rpc::client_core::clock;
using std::chrono::milliseconds;
using kind = rpc::client_action::kind;

struct tagged : rpc::call_context {
    explicit tagged(int t) : tag(t) {}
    int tag;
};

struct completion {
    clock::time_point at;
    rpc::error_code ec;
    std::string message;
    rpc::reply_message reply;
};

// Drives a core and keeps what its actions asked for.
struct harness {
    explicit harness(rpc::client_core_options o = {}) : core(o, 42, 0x1234) {}

    rpc::client_core core;
    clock::time_point now = clock::time_point{} + std::chrono::hours(1);
    std::map<int, completion> completed;  // by tag
    std::vector<rpc::client_action> published;
    std::vector<std::uint64_t> reconnects;  // generations asked for
    std::vector<std::size_t> reconnect_nodes;  // and the node of each
    std::map<int, std::string> ids;         // tag -> correlation id
    std::map<int, std::uint64_t> keys;      // tag -> key
    int duplicates = 0;

    void drain() {
        for (auto& a : core.actions()) switch (a.what) {
                case kind::publish:
                    published.push_back(std::move(a));
                    break;
                case kind::complete: {
                    const int tag = static_cast<tagged&>(*a.context).tag;
                    if (!completed.emplace(tag, completion{now, a.ec, a.message, std::move(a.reply)}).second)
                        ++duplicates;
                    break;
                }
                case kind::arm_timer:
                    break;  // core.timer_at() says when
                case kind::reconnect:
                    reconnects.push_back(a.generation);
                    reconnect_nodes.push_back(a.node);
                    break;
            }
        core.actions().clear();
    }
    void start() {
        ASSERT_TRUE(core.connection_up(0, now));
        drain();
    }
    void submit(int tag, milliseconds timeout, std::string body = "x") {
        const auto id = core.ids().next_id();
        ids[tag] = std::string(id.view());
        keys[tag] = id.key;
        rpc::request_message r;
        r.body = std::move(body);
        r.timeout = timeout;
        core.submit(id, std::move(r), std::make_unique<tagged>(tag), now);
        drain();
    }
    void reply(std::optional<std::string_view> id, std::string_view body = "ok",
               std::optional<std::string_view> content_type = std::nullopt) {
        rpc::incoming_reply r;
        r.correlation_id = id;
        r.body = body;
        r.content_type = content_type;
        core.reply_received(r);
        drain();
    }
    void reply_to(int tag, std::string_view body = "ok") { reply(ids.at(tag), body); }
    // Advance the fake clock to the armed time and fire.
    bool fire() {
        if (core.timer_at() == clock::time_point::max()) return false;
        now = std::max(now, core.timer_at());
        core.timer_fired(now);
        drain();
        return true;
    }
    bool done(int tag) const { return completed.count(tag) != 0; }
    rpc::error_code ec(int tag) const { return completed.at(tag).ec; }
};

}  // namespace core_test
