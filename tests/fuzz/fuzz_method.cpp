// decode_method on arbitrary payloads: never reads out of bounds, and whatever it accepts
// re-encodes to a payload of the announced size that decodes to the same value.
#include "fuzz_check.hpp"

#include <amqp/codec/methods.hpp>

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    amqp::method m;
    amqp::diagnostics diag;
    const auto ec = amqp::decode_method(amqp::bytes_view(data, size), m, diag);
    if (ec) {
        FUZZ_CHECK(ec.category() == amqp::reply_category());
        FUZZ_CHECK(!diag.message.empty());
        FUZZ_CHECK(diag.offset <= size);
        return 0;
    }
    FUZZ_CHECK(!amqp::method_name(m).empty());
    std::vector<std::uint8_t> out(amqp::method_payload_size(m));
    FUZZ_CHECK(out.size() == size);  // trailing bytes are refused, so every byte was an argument
    FUZZ_CHECK(!amqp::encode_method(m, out.data()));
    amqp::method again;
    FUZZ_CHECK(!amqp::decode_method(out, again, diag));
    FUZZ_CHECK(again == m);
    return 0;
}
