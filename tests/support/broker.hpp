// Where the test broker is: AMQP_URL, else the URL the ctest fixture wrote to AMQP_URL_FILE.
#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace amqp_test {

/// The URL of the private RabbitMQ the tests run against, or "" when there is none.
inline std::string broker_url() {
    if (const char* url = std::getenv("AMQP_URL"); url && *url) return url;
    if (const char* file = std::getenv("AMQP_URL_FILE"); file && *file) {
        std::ifstream in(file);
        std::string url;
        if (in >> url) return url;
    }
    return {};
}

}  // namespace amqp_test
