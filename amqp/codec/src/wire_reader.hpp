// Internal: a bounds-checked big-endian reader over a byte span. Every read checks the
// remaining length first (as `n <= end - pos`, which cannot wrap) and never allocates.
#pragma once

#include <amqp/codec/types.hpp>

#include <boost/endian/conversion.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace amqp::detail {

/// Reads AMQP primitive types from a span. A failed read leaves the position unchanged and
/// returns false; the caller turns that into an error naming the field.
class wire_reader {
public:
    explicit wire_reader(bytes_view in) noexcept : begin_(in.data()), pos_(in.data()), end_(in.data() + in.size()) {}

    std::size_t offset() const noexcept { return static_cast<std::size_t>(pos_ - begin_); }
    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }
    bool at_end() const noexcept { return pos_ == end_; }
    const std::uint8_t* position() const noexcept { return pos_; }

    bool u8(std::uint8_t& v) noexcept {
        if (pos_ == end_) return false;
        v = *pos_++;
        return true;
    }
    bool u16(std::uint16_t& v) noexcept { return big<std::uint16_t>(v); }
    bool u32(std::uint32_t& v) noexcept { return big<std::uint32_t>(v); }
    bool u64(std::uint64_t& v) noexcept { return big<std::uint64_t>(v); }

    /// A view of the next `n` bytes.
    bool bytes(std::size_t n, bytes_view& v) noexcept {
        if (n > remaining()) return false;
        v = bytes_view(pos_, n);
        pos_ += n;
        return true;
    }
    bool skip(std::size_t n) noexcept {
        if (n > remaining()) return false;
        pos_ += n;
        return true;
    }

    /// shortstr: 1-byte length + bytes. On failure the position is unchanged.
    bool shortstr(std::string_view& s) noexcept {
        if (pos_ == end_) return false;
        const std::size_t n = *pos_;
        if (n > remaining() - 1) return false;
        s = std::string_view(reinterpret_cast<const char*>(pos_ + 1), n);
        pos_ += 1 + n;
        return true;
    }
    /// longstr (and tables): 4-byte length + bytes. On failure the position is unchanged.
    bool longbytes(bytes_view& b) noexcept {
        if (remaining() < 4) return false;
        const std::uint32_t n = boost::endian::load_big_u32(pos_);
        if (n > remaining() - 4) return false;
        b = bytes_view(pos_ + 4, n);
        pos_ += 4 + static_cast<std::size_t>(n);
        return true;
    }
    bool longstr(std::string_view& s) noexcept {
        bytes_view b;
        if (!longbytes(b)) return false;
        s = as_string_view(b);
        return true;
    }

private:
    template <class T>
    bool big(T& v) noexcept {
        if (sizeof(T) > remaining()) return false;
        T raw;
        std::memcpy(&raw, pos_, sizeof(T));
        v = boost::endian::big_to_native(raw);
        pos_ += sizeof(T);
        return true;
    }

    const std::uint8_t* begin_;
    const std::uint8_t* pos_;
    const std::uint8_t* end_;
};

}  // namespace amqp::detail
