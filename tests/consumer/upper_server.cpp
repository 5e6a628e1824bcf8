// The "upper" service's server, as a consumer of the installed library writes it:
//   upper_server URL QUEUE
// answers every request on QUEUE with its body upper-cased, until SIGINT or SIGTERM.
#include "upper_io.hpp"

#include <rpc/rpc_server.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <exception>
#include <future>
#include <iostream>
#include <string>

#include <boost/asio/signal_set.hpp>

namespace {

rpc::reply to_upper(const rpc::request& req) {
    std::string text = req.body;
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    return rpc::reply{std::move(text), std::string("text/plain")};
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: upper_server URL QUEUE\n";
        return 2;
    }
    const auto conn = upper::broker("upper_server", argv[1]);
    if (!conn) return 2;
    rpc::server_options opts;
    opts.queue = argv[2];

    upper::io_thread io;
    std::promise<void> interrupted;
    boost::asio::signal_set signals(io.context(), SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (!ec) interrupted.set_value();
    });

    int status = 0;
    try {
        rpc::rpc_server server(io.context().get_executor(), *conn, opts, to_upper);
        server.start();
        std::cout << "upper_server: ready on " << opts.queue << std::endl;
        interrupted.get_future().wait();
        server.stop();
        std::cout << "upper_server: stopped after " << server.stats().replies << " replies" << std::endl;
    } catch (const std::exception& e) {
        std::cerr << "upper_server: " << e.what() << std::endl;
        status = 1;
    }
    signals.cancel();
    return status;
}
