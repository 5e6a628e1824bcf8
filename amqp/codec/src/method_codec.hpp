// Internal: the visitors that turn a method's field description (method_fields.hpp) into
// decoding, size computation and encoding. Bits follow the spec's packing rule: consecutive
// bit arguments share an octet, first bit in the lowest position; any other argument ends
// the run.
#pragma once

#include "wire_reader.hpp"
#include <amqp/codec/detail/wire_writer.hpp>

#include <amqp/codec/error.hpp>
#include <amqp/codec/field_table.hpp>
#include <amqp/codec/method_fields.hpp>
#include <amqp/codec/types.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>


namespace amqp::detail {

/// Why a method argument failed to decode. The message texts live in the cold formatter.
enum class arg_fault : std::uint8_t { octet, short_, long_, longlong, shortstr, longstr, bit, table_length };

/// Fills `diag` for a failed argument: "<type> runs past the end of the payload" at `offset`,
/// field "<method>.<argument>". Cold and out of line, and it takes only values: if the
/// decoder's own address reached a call, its reader would live in memory and every argument
/// would store and reload the position (that was a third of a basic.deliver's decode).
[[gnu::cold]] error_code arg_fail(diagnostics& diag, std::string_view method, const char* arg, std::size_t offset,
                                  arg_fault f) noexcept;
/// A table argument that did not validate: `diag` holds validate_table's findings, relative to
/// the table body at `offset` + 4; re-based to the payload and prefixed with "<method>.<argument>".
[[gnu::cold]] error_code table_arg_fail(diagnostics& diag, std::string_view method, const char* arg,
                                        std::size_t offset) noexcept;

/// Reads arguments; on the first failure records what and where, and stops the walk.
/// The visitor calls are forced inline: out of line they were a tenth of a deliver's decode.
class method_decoder {
public:
    method_decoder(wire_reader& r, std::string_view method, diagnostics& diag) noexcept
        : r_(r), method_(method), diag_(diag) {}

    [[gnu::always_inline]] bool u8(const char* n, std::uint8_t& v) noexcept { return plain(n, r_.u8(v), arg_fault::octet); }
    [[gnu::always_inline]] bool u16(const char* n, std::uint16_t& v) noexcept {
        return plain(n, r_.u16(v), arg_fault::short_);
    }
    [[gnu::always_inline]] bool u32(const char* n, std::uint32_t& v) noexcept {
        return plain(n, r_.u32(v), arg_fault::long_);
    }
    [[gnu::always_inline]] bool u64(const char* n, std::uint64_t& v) noexcept {
        return plain(n, r_.u64(v), arg_fault::longlong);
    }
    [[gnu::always_inline]] bool shortstr(const char* n, std::string_view& v) noexcept {
        return plain(n, r_.shortstr(v), arg_fault::shortstr);
    }
    [[gnu::always_inline]] bool longstr(const char* n, std::string_view& v) noexcept {
        return plain(n, r_.longstr(v), arg_fault::longstr);
    }
    [[gnu::always_inline]] bool bit(const char* n, bool& v) noexcept {
        if (bit_pos_ == 8) {
            if (!r_.u8(bits_)) [[unlikely]]
                return failed(arg_fail(diag_, method_, n, r_.offset(), arg_fault::bit));
            bit_pos_ = 0;
        }
        v = ((bits_ >> bit_pos_) & 1u) != 0;
        ++bit_pos_;
        return true;
    }
    [[gnu::always_inline]] bool table(const char* n, table_view& t) noexcept {
        bit_pos_ = 8;
        const std::size_t at = r_.offset();
        bytes_view raw;
        if (!r_.longbytes(raw)) [[unlikely]]
            return failed(arg_fail(diag_, method_, n, at, arg_fault::table_length));
        if (validate_table(raw, diag_)) [[unlikely]]
            return failed(table_arg_fail(diag_, method_, n, at));
        t.raw = raw;
        return true;
    }

    error_code error() const noexcept { return ec_; }

private:
    [[gnu::always_inline]] bool plain(const char* n, bool ok, arg_fault f) noexcept {
        bit_pos_ = 8;
        if (ok) [[likely]]
            return true;
        return failed(arg_fail(diag_, method_, n, r_.offset(), f));
    }
    bool failed(error_code ec) noexcept {
        ec_ = ec;
        return false;
    }

    wire_reader& r_;
    std::string_view method_;
    diagnostics& diag_;
    error_code ec_;
    std::uint8_t bits_ = 0;
    int bit_pos_ = 8;  // 8: the next bit starts a new octet
};

/// Sums the encoded size of the arguments.
class method_sizer {
public:
    void u8(const char*, std::uint8_t) noexcept { add(1); }
    void u16(const char*, std::uint16_t) noexcept { add(2); }
    void u32(const char*, std::uint32_t) noexcept { add(4); }
    void u64(const char*, std::uint64_t) noexcept { add(8); }
    void shortstr(const char*, std::string_view s) noexcept { add(1 + s.size()); }
    void longstr(const char*, std::string_view s) noexcept { add(4 + s.size()); }
    void table(const char*, const table_view& t) noexcept { add(4 + t.raw.size()); }
    void bit(const char*, bool) noexcept {
        if (bit_pos_ == 8) {
            size_ += 1;
            bit_pos_ = 0;
        }
        ++bit_pos_;
    }
    std::size_t size() const noexcept { return size_; }

private:
    void add(std::size_t n) noexcept {
        size_ += n;
        bit_pos_ = 8;
    }
    std::size_t size_ = 0;
    int bit_pos_ = 8;
};

/// Checks the lengths the wire cannot express, before anything is written.
class method_checker {
public:
    method_checker(std::string_view method, diagnostics* diag) noexcept : method_(method), diag_(diag) {}
    void u8(const char*, std::uint8_t) noexcept {}
    void u16(const char*, std::uint16_t) noexcept {}
    void u32(const char*, std::uint32_t) noexcept {}
    void u64(const char*, std::uint64_t) noexcept {}
    void bit(const char*, bool) noexcept {}
    bool shortstr(const char* n, std::string_view s) noexcept {
        return s.size() <= 255 || fail(n, "shortstr longer than 255 bytes");
    }
    bool longstr(const char* n, std::string_view s) noexcept {
        return s.size() <= std::numeric_limits<std::uint32_t>::max() ||
               fail(n, "longstr longer than 2^32-1 bytes");
    }
    bool table(const char* n, const table_view& t) noexcept {
        return t.raw.size() <= std::numeric_limits<std::uint32_t>::max() ||
               fail(n, "table longer than 2^32-1 bytes");
    }

private:
    bool fail(const char* n, const char* msg) noexcept {
        if (diag_ != nullptr) {
            diag_->message = msg;
            diag_->offset = 0;
            diag_->field.assign(method_);
            diag_->field += '.';
            diag_->field += n;
        }
        return false;
    }
    std::string_view method_;
    diagnostics* diag_;
};

/// Writes the arguments (sizes already checked).
class method_writer {
public:
    explicit method_writer(std::uint8_t* out) noexcept : w_(out) {}
    void u8(const char*, std::uint8_t v) noexcept { end_bits(), w_.u8(v); }
    void u16(const char*, std::uint16_t v) noexcept { end_bits(), w_.u16(v); }
    void u32(const char*, std::uint32_t v) noexcept { end_bits(), w_.u32(v); }
    void u64(const char*, std::uint64_t v) noexcept { end_bits(), w_.u64(v); }
    void shortstr(const char*, std::string_view s) noexcept { end_bits(), w_.shortstr(s); }
    void longstr(const char*, std::string_view s) noexcept { end_bits(), w_.longbytes(s.data(), s.size()); }
    void table(const char*, const table_view& t) noexcept {
        end_bits(), w_.longbytes(t.raw.data(), t.raw.size());
    }
    void bit(const char*, bool v) noexcept {
        if (bit_pos_ == 8) {
            bit_octet_ = w_.position();
            w_.u8(0);
            bit_pos_ = 0;
        }
        if (v) *bit_octet_ = static_cast<std::uint8_t>(*bit_octet_ | (1u << bit_pos_));
        ++bit_pos_;
    }
    std::uint8_t* position() const noexcept { return w_.position(); }

private:
    void end_bits() noexcept { bit_pos_ = 8; }
    wire_writer w_;
    std::uint8_t* bit_octet_ = nullptr;
    int bit_pos_ = 8;
};

/// Payload size of method `m` (ids included).
template <class T>
std::size_t method_size(const T& m) noexcept {
    method_sizer s;
    for_each_field(m, s);
    return 4 + s.size();
}

/// False if an argument is too long for the wire.
template <class T>
bool method_encodable(const T& m) noexcept {
    method_checker c(T::name, nullptr);
    return for_each_field(m, c);
}

/// Write ids and arguments at `out` (room for method_size(m); method_encodable(m) holds).
template <class T>
void write_method(const T& m, std::uint8_t* out) noexcept {
    wire_writer ids(out);
    ids.u16(T::class_index);
    ids.u16(T::method_index);
    method_writer w(out + 4);
    for_each_field(m, w);
}

}  // namespace amqp::detail
