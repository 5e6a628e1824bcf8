// A RabbitMQ node of a test's own (scripts/rabbitmq.sh in a directory of its own), for faults
// that would disturb the shared broker: memory alarms, restarts. Stopped by the destructor, so a
// failing test still leaves no node behind.
#pragma once

#include <test_support/child_process.hpp>

#include <amqp/connection_options.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace faults_test {

using namespace std::chrono_literals;

/// Runs scripts/rabbitmq.sh with `args`; true on exit status 0.
inline bool rabbitmq_sh(std::vector<std::string> args, std::string* out = nullptr,
                        std::chrono::milliseconds timeout = std::chrono::seconds(240)) {
    args.insert(args.begin(), AMQP_SOURCE_DIR "/scripts/rabbitmq.sh");
    rpc_test::child_process p(std::move(args));
    const auto e = p.wait(timeout);
    if (out) *out = p.out();
    if (!(e.exited && e.status == 0)) {
        ADD_FAILURE() << "rabbitmq.sh failed: " << p.err();
        return false;
    }
    return true;
}

/// A private node in `dir`, started by the constructor (check ok()), stopped by the destructor.
/// `conf`: extra rabbitmq.conf lines ("max_message_size=4096"), on every start.
class private_broker {
public:
    /// `flags`: more arguments of `rabbitmq.sh start` ("--tls", "--plugin", NAME), on every start.
    explicit private_broker(std::string dir, std::vector<std::string> conf = {}, std::vector<std::string> flags = {})
        : dir_(std::move(dir)), start_args_(std::move(flags)) {
        for (auto& c : conf) start_args_.insert(start_args_.end(), {"--conf", std::move(c)});
        // The shared broker's URL must not leak in: start one here, always.
        if (!rabbitmq_sh(with_start_args({"start", "--dir", dir_}))) return;
        std::ifstream f(dir_ + "/amqp_url");
        std::getline(f, url_);
        std::ifstream tls(dir_ + "/amqps_url");
        std::getline(tls, amqps_url_);
    }
    ~private_broker() {
        if (running_) rabbitmq_sh({"stop", "--dir", dir_});
    }
    /// Stop the node (clients see their connection drop).
    bool stop() {
        running_ = false;
        return rabbitmq_sh({"stop", "--dir", dir_});
    }
    /// Start it again on the same AMQP port, so the same URL reaches it.
    bool restart() {
        const auto colon = url_.rfind(':');
        const std::string port = url_.substr(colon + 1, url_.find('/', colon) - colon - 1);
        running_ = rabbitmq_sh(with_start_args({"start", "--dir", dir_, "--port", port}));
        return running_;
    }
    private_broker(const private_broker&) = delete;
    private_broker& operator=(const private_broker&) = delete;

    bool ok() const { return !url_.empty(); }
    const std::string& url() const { return url_; }
    /// With "--tls": the TLS listener's URL, and the folder of its CA and client certificate.
    const std::string& amqps_url() const { return amqps_url_; }
    std::string tls_dir() const { return dir_ + "/tls"; }
    amqp::connection_options options() const {
        amqp::connection_options o;
        std::string why;
        if (amqp::parse_uri(url_, o, &why)) ADD_FAILURE() << "bad URL " << url_ << ": " << why;
        return o;
    }
    /// rabbitmqctl against this node.
    bool ctl(std::vector<std::string> args) {
        args.insert(args.begin(), {"ctl", "--dir", dir_, "--"});
        return rabbitmq_sh(std::move(args), nullptr, std::chrono::seconds(60));
    }

private:
    std::vector<std::string> with_start_args(std::vector<std::string> args) const {
        args.insert(args.end(), start_args_.begin(), start_args_.end());
        return args;
    }

    std::string dir_;
    std::vector<std::string> start_args_;
    std::string url_;
    std::string amqps_url_;
    bool running_ = true;
};

}  // namespace faults_test
