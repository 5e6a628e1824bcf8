// Drive an io_context in a test until a condition holds, and check that it runs dry.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

namespace amqp_test {

/// Run handlers until `done()`; false if the context ran out of work first or nothing happened
/// for a long while (a hang guard, not a timing assertion).
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred done) {
    while (!done()) {
        if (ioc.stopped()) ioc.restart();
        if (ioc.run_one_for(std::chrono::seconds(20)) == 0) return done();
    }
    return true;
}

/// Run until the context has no work left: every operation the connection started has
/// completed (no leaked handler, no armed timer). False if work is still pending after a long
/// while (a hang guard, not a timing assertion).
inline bool runs_dry(boost::asio::io_context& ioc) {
    ioc.restart();
    ioc.run_for(std::chrono::seconds(30));
    return ioc.stopped();
}

}  // namespace amqp_test
