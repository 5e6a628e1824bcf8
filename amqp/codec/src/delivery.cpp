// The out-of-line parts of decode_delivery (delivery.hpp): a message with a headers table.
#include <amqp/codec/delivery.hpp>
#include <amqp/codec/field_table.hpp>

namespace amqp::detail {

bool table_validates(bytes_view raw) noexcept {
    diagnostics diag;
    return !validate_table(raw, diag);
}

std::size_t decode_delivery_with_tables(bytes_view in, std::uint32_t frame_max, delivery_view& out) noexcept {
    return decode_delivery_as<true>(in, frame_max, out);
}

}  // namespace amqp::detail
