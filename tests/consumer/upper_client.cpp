// The "upper" service's client, as a consumer of the installed library writes it:
//   upper_client URL QUEUE TEXT
// sends TEXT with rpc_client::async_request and prints the reply's body and content type.
#include "upper_io.hpp"

#include <rpc/rpc_client.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <iostream>
#include <string>
#include <utility>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: upper_client URL QUEUE TEXT\n";
        return 2;
    }
    const auto conn = upper::broker("upper_client", argv[1]);
    if (!conn) return 2;
    rpc::client_options opts;
    opts.queue = argv[2];

    upper::io_thread io;
    int status = 0;
    try {
        rpc::rpc_client client(io.context().get_executor(), *conn, opts);
        client.start();
        rpc::request_message req;
        req.body = argv[3];
        req.content_type = "text/plain";
        req.timeout = std::chrono::seconds(20);
        rpc::diagnostics diag;
        std::promise<std::pair<rpc::error_code, rpc::reply_message>> done;
        client.async_request(std::move(req), diag, [&](rpc::error_code ec, rpc::reply_message rep) {
            done.set_value({ec, std::move(rep)});
        });
        auto [ec, rep] = done.get_future().get();
        if (ec) {
            std::cerr << "upper_client: " << ec.message() << ": " << diag.message << std::endl;
            status = 1;
        } else {
            std::cout << "upper_client: reply '" << rep.body << "' (" << (rep.content_type.empty() ? std::string("no content type") : rep.content_type)
                      << ")" << std::endl;
        }
        client.close();
    } catch (const std::exception& e) {
        std::cerr << "upper_client: " << e.what() << std::endl;
        status = 1;
    }
    return status;
}
