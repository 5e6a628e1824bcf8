// Field tables: validate_table and decode_table agree on every input (same verdict, same
// offset); a decoded table re-encodes, and that encoding is a fixed point of decode+encode.
#include "fuzz/fuzz_check.hpp"

#include <amqp/field_table.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const amqp::bytes_view raw(data, size);
    amqp::diagnostics d1, d2;
    const auto v = amqp::validate_table(raw, d1);
    amqp::field_table t;
    const auto ec = amqp::decode_table(amqp::table_view{raw}, t, d2);
    FUZZ_CHECK(v == ec);
    if (ec) {
        FUZZ_CHECK(d1.offset == d2.offset && d1.field == d2.field);
        FUZZ_CHECK(d1.offset <= size);
        return 0;
    }
    amqp::byte_buffer once;
    FUZZ_CHECK(!amqp::encode_table(t, once));
    FUZZ_CHECK(once.size() == size);  // only 't' octets other than 0/1 are non-canonical
    FUZZ_CHECK(amqp::table_encoded_size(t) == once.size());
    amqp::field_table t2;
    FUZZ_CHECK(!amqp::decode_table(amqp::table_view{once}, t2, d2));
    amqp::byte_buffer twice;
    FUZZ_CHECK(!amqp::encode_table(t2, twice));
    FUZZ_CHECK(once == twice);
    (void)amqp::to_string(t);
    return 0;
}
