// decode_content_header on arbitrary payloads; an accepted header re-encodes byte for byte
// (the header form is canonical: no bits with free values) and its headers table decodes.
#include "fuzz/fuzz_check.hpp"

#include <amqp/field_table.hpp>
#include <amqp/properties.hpp>

#include <algorithm>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    amqp::content_header h;
    amqp::diagnostics diag;
    if (const auto ec = amqp::decode_content_header(amqp::bytes_view(data, size), h, diag)) {
        FUZZ_CHECK(!diag.message.empty());
        FUZZ_CHECK(diag.offset <= size);
        return 0;
    }
    std::vector<std::uint8_t> out(amqp::content_header_payload_size(h));
    FUZZ_CHECK(out.size() == size);
    FUZZ_CHECK(!amqp::encode_content_header(h, out.data()));
    FUZZ_CHECK(std::equal(out.begin(), out.end(), data));
    if (h.properties.headers) {
        amqp::field_table t;
        FUZZ_CHECK(!amqp::decode_table(*h.properties.headers, t, diag));
    }
    return 0;
}
