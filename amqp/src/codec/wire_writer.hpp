// Internal: an unchecked big-endian writer into a buffer whose size the caller computed first
// (the encoders' "size, then write" contract). Lengths are validated before writing starts.
#pragma once

#include <amqp/types.hpp>

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace amqp::detail {

/// Writes AMQP primitive types at a raw pointer. No bounds checks: the caller sized the buffer.
class wire_writer {
public:
    explicit wire_writer(std::uint8_t* out) noexcept : pos_(out) {}

    std::uint8_t* position() const noexcept { return pos_; }

    void u8(std::uint8_t v) noexcept { *pos_++ = v; }
    void u16(std::uint16_t v) noexcept {
        boost::endian::store_big_u16(pos_, v);
        pos_ += 2;
    }
    void u32(std::uint32_t v) noexcept {
        boost::endian::store_big_u32(pos_, v);
        pos_ += 4;
    }
    void u64(std::uint64_t v) noexcept {
        boost::endian::store_big_u64(pos_, v);
        pos_ += 8;
    }
    void raw(const void* p, std::size_t n) noexcept {
        if (n != 0) std::memcpy(pos_, p, n);
        pos_ += n;
    }
    /// The caller checked s.size() <= 255.
    void shortstr(std::string_view s) noexcept {
        u8(static_cast<std::uint8_t>(s.size()));
        raw(s.data(), s.size());
    }
    /// The caller checked size <= 2^32 - 1.
    void longbytes(const void* p, std::size_t n) noexcept {
        u32(static_cast<std::uint32_t>(n));
        raw(p, n);
    }

private:
    std::uint8_t* pos_;
};

}  // namespace amqp::detail
