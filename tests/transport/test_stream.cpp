#include "test_stream.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>

namespace amqp_test {

namespace asio = boost::asio;
using amqp::error_code;

class test_stream final : public amqp::transport::stream {
public:
    explicit test_stream(std::shared_ptr<test_peer> p) : peer_(std::move(p)) {}
    ~test_stream() override { peer_->destroyed_ = true; }

    void async_connect(amqp::transport::connect_handler h) override {
        const auto ec = peer_->connect_error;
        const auto hex = asio::get_associated_executor(h, peer_->ex_);
        asio::post(peer_->ex_, asio::bind_executor(hex, [h = std::move(h), ec]() mutable {
                       std::move(h)(ec, ec ? "cannot connect to the test peer" : "");
                   }));
    }
    void async_read_some(asio::mutable_buffer b, amqp::transport::io_handler h) override {
        peer_->read(b, std::move(h));
    }
    void async_write_some(asio::const_buffer b, amqp::transport::io_handler h) override {
        peer_->write(b, std::move(h));
    }
    std::size_t try_write_some(asio::const_buffer b, error_code& ec) override { return peer_->try_write(b, ec); }
    void close() noexcept override { peer_->close(); }
    bool is_tls() const noexcept override { return false; }

private:
    std::shared_ptr<test_peer> peer_;
};

std::unique_ptr<amqp::transport::stream> test_peer::make_stream() {
    return std::make_unique<test_stream>(shared_from_this());
}

void test_peer::send(amqp::bytes_view bytes) {
    input_.insert(input_.end(), bytes.begin(), bytes.end());
    serve_pending_read();
}

void test_peer::hang_up() {
    hung_up_ = true;
    serve_pending_read();
}

void test_peer::fail_read_at(std::size_t n, error_code ec) {
    fail_read_at_ = n;
    read_error_ = ec;
}

void test_peer::fail_write_at(std::size_t n, error_code ec) {
    fail_write_at_ = n;
    write_error_ = ec;
}

void test_peer::post(amqp::transport::io_handler h, error_code ec, std::size_t n) {
    const auto hex = asio::get_associated_executor(h, ex_);
    asio::post(ex_, asio::bind_executor(hex, [h = std::move(h), ec, n]() mutable { std::move(h)(ec, n); }));
}

void test_peer::read(asio::mutable_buffer b, amqp::transport::io_handler h) {
    ++reads_;
    if (closed_) return post(std::move(h), asio::error::operation_aborted, 0);
    if (reads_ == fail_read_at_) {
        fault_hit_ = true;
        return post(std::move(h), read_error_, 0);
    }
    pending_read_.emplace(std::move(h));
    pending_work_ = asio::prefer(ex_, asio::execution::outstanding_work.tracked);
    pending_buf_ = b;
    serve_pending_read();
}

void test_peer::serve_pending_read() {
    if (!pending_read_) return;
    const std::size_t available = input_.size() - input_pos_;
    if (available == 0 && !hung_up_) return;  // a silent peer: wait
    auto h = std::move(*pending_read_);
    pending_read_.reset();
    pending_work_ = {};
    if (available == 0) return post(std::move(h), asio::error::eof, 0);
    const std::size_t n = std::min(available, pending_buf_.size());
    std::memcpy(pending_buf_.data(), input_.data() + input_pos_, n);
    input_pos_ += n;
    post(std::move(h), {}, n);
}

void test_peer::write(asio::const_buffer b, amqp::transport::io_handler h) {
    ++writes_;
    ++async_writes_;
    if (closed_) return post(std::move(h), asio::error::operation_aborted, 0);
    if (writes_ == fail_write_at_) {
        fault_hit_ = true;
        return post(std::move(h), write_error_, 0);
    }
    post(std::move(h), {}, b.size());
    capture(b);
}

std::size_t test_peer::try_write(asio::const_buffer b, error_code& ec) {
    ec = {};
    if (in_place_writes == in_place::unsupported) {
        ec = asio::error::operation_not_supported;
        return 0;
    }
    ++writes_;
    if (closed_) {
        ec = asio::error::bad_descriptor;
        return 0;
    }
    if (writes_ == fail_write_at_) {
        fault_hit_ = true;
        ec = write_error_;
        return 0;
    }
    if (in_place_writes == in_place::would_block || b.size() < 2) {
        ec = asio::error::would_block;
        return 0;
    }
    const auto n = in_place_writes == in_place::whole ? b.size() : b.size() / 2;
    capture(asio::buffer(b.data(), n));
    return n;
}

void test_peer::capture(asio::const_buffer b) {
    const auto* p = static_cast<const std::uint8_t*>(b.data());
    written_.insert(written_.end(), p, p + b.size());
    if (on_write) on_write(*this, amqp::bytes_view(p, b.size()));
}

void test_peer::close() {
    if (closed_) return;
    closed_ = true;
    if (pending_read_) {
        auto h = std::move(*pending_read_);
        pending_read_.reset();
        pending_work_ = {};
        post(std::move(h), asio::error::operation_aborted, 0);
    }
}

}  // namespace amqp_test
