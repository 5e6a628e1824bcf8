// Internal: an unchecked big-endian writer into a buffer whose size the caller computed first
// (the encoders' "size, then write" contract). Lengths are validated before writing starts.
// Errors: none (a precondition broken is undefined behaviour). Threading: one owner per writer.
#pragma once

#include <amqp/codec/types.hpp>

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
        const auto* src = static_cast<const std::uint8_t*>(p);
        // Names, ids and small bodies are copied inline (docs/codec-benchmarks.md, wire_writer.hpp).
        if (n <= 64) [[likely]]
            copy_short(pos_, src, n);
        else std::memcpy(pos_, src, n);
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
    // Two blocks of B bytes, the second ending at n: covers every n in [B, 2B], reading and
    // writing nothing outside [0, n). Source and destination never overlap (the destination is
    // the part of the buffer being written), so each block goes straight across.
    template <std::size_t B>
    static void copy_overlapping(std::uint8_t* d, const std::uint8_t* s, std::size_t n) noexcept {
        std::memcpy(d, s, B);
        std::memcpy(d + n - B, s + n - B, B);
    }
    static void copy_short(std::uint8_t* d, const std::uint8_t* s, std::size_t n) noexcept {
        if (n >= 16) {
            if (n >= 32) copy_overlapping<32>(d, s, n);
            else copy_overlapping<16>(d, s, n);
        } else if (n >= 4) {
            if (n >= 8) copy_overlapping<8>(d, s, n);
            else copy_overlapping<4>(d, s, n);
        } else if (n != 0) {
            d[0] = s[0];
            d[n / 2] = s[n / 2];
            d[n - 1] = s[n - 1];
        }
    }

    std::uint8_t* pos_;
};

}  // namespace amqp::detail
