// Internal: content-header payload encoding straight from a basic_properties, for the message
// encoder (building a content_header just to encode it copied ~300 bytes per message). Inline,
// so that the walks over the 14 properties (amqp/detail/property_list.hpp) are compiled into
// the encoders rather than being calls.
#pragma once

#include <amqp/codec/detail/wire_writer.hpp>

#include <amqp/codec/detail/property_list.hpp>
#include <amqp/codec/detail/publish_codec.hpp>
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/properties.hpp>

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace amqp::detail {

// Sizes and checks in one pass.
class property_sizer {
public:
    [[gnu::always_inline]] bool shortstr(int, const char*, const std::optional<std::string_view>& p) noexcept {
        if (p) {
            size_ += 1 + p->size();
            ok_ &= p->size() <= 255;
        }
        return true;
    }
    [[gnu::always_inline]] bool u8(int, const char*, const std::optional<std::uint8_t>& p) noexcept {
        if (p) size_ += 1;
        return true;
    }
    [[gnu::always_inline]] bool u64(int, const char*, const std::optional<std::uint64_t>& p) noexcept {
        if (p) size_ += 8;
        return true;
    }
    [[gnu::always_inline]] bool table(int, const char*, const std::optional<table_view>& p) noexcept {
        if (p) {
            size_ += 4 + p->raw.size();
            ok_ &= p->raw.size() <= std::numeric_limits<std::uint32_t>::max();
        }
        return true;
    }
    std::size_t size() const noexcept { return size_; }
    bool ok() const noexcept { return ok_; }

private:
    std::size_t size_ = 0;
    bool ok_ = true;
};

// property_bound, max_untabled_properties_size and checked_property_writer, which the inline
// encode_publish needs: <amqp/detail/publish_codec.hpp>.

/// Payload size of a content header carrying `p`; 0 when a property cannot be encoded
/// (a shortstr over 255 bytes, a table over 2^32-1): a valid payload is never below 14.
[[gnu::always_inline]] inline std::size_t header_payload_size_checked(const basic_properties& p) noexcept {
    property_sizer s;
    for_each_property(p, s);
    return s.ok() ? fixed_part + s.size() : 0;
}

/// Write the payload (class, weight, body size, flags, properties); `p` passed the check above.
[[gnu::always_inline]] inline void write_header_payload(std::uint8_t* out, std::uint16_t class_index,
                                                        std::uint16_t weight, std::uint64_t body_size,
                                                        const basic_properties& p) noexcept {
    wire_writer w(out);
    w.u16(class_index);
    w.u16(weight);
    w.u64(body_size);
    // The sizes were checked: the writer's own check of each shortstr cannot fail here.
    checked_property_writer pw(out + fixed_part);
    for_each_property(p, pw);
    // The flags precede the properties but are known only after writing them.
    boost::endian::store_big_u16(out + fixed_part - 2, pw.flags());
}

}  // namespace amqp::detail
