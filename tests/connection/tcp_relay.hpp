// A TCP relay between the client and the broker that a test can cut (both sockets closed: a lost
// connection) or freeze (bytes swallowed both ways: a silent, half-dead peer).
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace amqp_test {

class tcp_relay {
public:
    tcp_relay(const std::string& host, std::uint16_t port)
        : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}),
          upstream_(boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host), port) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~tcp_relay() {
        boost::asio::post(io_, [this] { close_all(); });
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    /// Close every relayed connection at once (the client sees a reset/EOF).
    void cut() {
        boost::asio::post(io_, [this] { close_all(); });
    }
    /// Keep the sockets open but forward nothing more, either way.
    void freeze() { frozen_ = true; }
    /// Forward again (bytes swallowed while frozen stay lost).
    void unfreeze() { frozen_ = false; }

private:
    using tcp = boost::asio::ip::tcp;
    struct pair {
        tcp::socket client, server;
        std::array<std::uint8_t, 16384> up{}, down{};
        explicit pair(boost::asio::io_context& io) : client(io), server(io) {}
    };

    void accept() {
        auto p = std::make_shared<pair>(io_);
        acceptor_.async_accept(p->client, [this, p](boost::system::error_code ec) {
            if (ec) return;
            boost::system::error_code e;
            p->server.connect(upstream_, e);
            if (e) {
                p->client.close(e);
            } else {
                pairs_.push_back(p);
                pump(p, p->client, p->server, p->up);
                pump(p, p->server, p->client, p->down);
            }
            accept();
        });
    }

    void pump(std::shared_ptr<pair> p, tcp::socket& from, tcp::socket& to, std::array<std::uint8_t, 16384>& buf) {
        from.async_read_some(boost::asio::buffer(buf), [this, p, &from, &to, &buf](boost::system::error_code ec, std::size_t n) {
            if (ec) {
                boost::system::error_code e;
                to.close(e);
                return;
            }
            if (frozen_) {
                pump(p, from, to, buf);
                return;
            }
            boost::asio::async_write(to, boost::asio::buffer(buf.data(), n),
                                     [this, p, &from, &to, &buf](boost::system::error_code e2, std::size_t) {
                                         if (!e2) pump(p, from, to, buf);
                                     });
        });
    }

    void close_all() {
        boost::system::error_code e;
        for (auto& p : pairs_) {
            p->client.close(e);
            p->server.close(e);
        }
        pairs_.clear();
    }

    boost::asio::io_context io_;
    tcp::acceptor acceptor_;
    tcp::endpoint upstream_;
    std::vector<std::shared_ptr<pair>> pairs_;
    std::atomic<bool> frozen_{false};
    std::thread thread_;
};

}  // namespace amqp_test
