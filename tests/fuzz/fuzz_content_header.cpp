// decode_content_header on arbitrary payloads; an accepted header re-encodes byte for byte
// (the header form is canonical: no bits with free values) and its headers table decodes.
// decode_content_header_salvaging agrees wherever the strict decoder accepts, and what it
// salvages from a refused payload is itself a header the strict decoder accepts.
#include "fuzz_check.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/properties.hpp>

#include <algorithm>
#include <vector>

namespace {

void check_salvaging(amqp::bytes_view in, bool strict_ok, const amqp::content_header& strict) {
    amqp::content_header h;
    amqp::diagnostics diag, skipped;
    if (amqp::decode_content_header_salvaging(in, h, diag, skipped)) {
        FUZZ_CHECK(!strict_ok);
        FUZZ_CHECK(!diag.message.empty());
        return;
    }
    FUZZ_CHECK(skipped.offset <= in.size());
    if (strict_ok) {
        FUZZ_CHECK(skipped.message.empty());
        FUZZ_CHECK(h == strict);
        return;
    }
    FUZZ_CHECK(!skipped.message.empty());
    std::vector<std::uint8_t> out(amqp::content_header_payload_size(h));
    FUZZ_CHECK(!amqp::encode_content_header(h, out.data()));
    amqp::content_header again;
    FUZZ_CHECK(!amqp::decode_content_header(out, again, diag));
    FUZZ_CHECK(again == h);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    amqp::content_header h;
    amqp::diagnostics diag;
    if (const auto ec = amqp::decode_content_header(amqp::bytes_view(data, size), h, diag)) {
        FUZZ_CHECK(!diag.message.empty());
        FUZZ_CHECK(diag.offset <= size);
        check_salvaging(amqp::bytes_view(data, size), false, h);
        return 0;
    }
    check_salvaging(amqp::bytes_view(data, size), true, h);
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
