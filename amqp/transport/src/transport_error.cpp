#include <amqp/transport/error.hpp>

#include <string>

namespace amqp {
namespace {

class transport_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "amqp.transport"; }
    std::string message(int code) const override {
        switch (static_cast<transport_error>(code)) {
            case transport_error::tls_error: return "TLS error";
            case transport_error::invalid_uri: return "invalid AMQP URI";
        }
        return "unknown amqp.transport error " + std::to_string(code);
    }
};

}  // namespace

const boost::system::error_category& transport_category() noexcept {
    static const transport_category_impl instance;
    return instance;
}

}  // namespace amqp
