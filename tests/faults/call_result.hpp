// A completion handler for the fault tests that hands the error code back as a value. With
// boost::asio::use_future the error would be an exception thrown on the test's thread from an
// exception_ptr set on the I/O thread, and TSan cannot follow libstdc++'s reference count on it
// (reports its free as a race); Boost 1.81's as_tuple does not combine with use_future.
#pragma once

#include <rpc/error.hpp>

#include <future>
#include <memory>
#include <utility>

namespace faults_test {

/// `f` gets (error_code, value) once the handler() given to an async call runs.
template <class T>
struct call_result {
    using outcome = std::pair<rpc::error_code, T>;
    std::shared_ptr<std::promise<outcome>> p = std::make_shared<std::promise<outcome>>();
    std::future<outcome> f = p->get_future();

    auto handler() {
        return [p = p](rpc::error_code ec, T v) { p->set_value({ec, std::move(v)}); };
    }
};

}  // namespace faults_test
