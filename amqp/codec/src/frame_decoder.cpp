// The streaming frame decoder: one reused buffer, frames handed out as views, sticky errors.
#include <amqp/codec/frame.hpp>

#include <algorithm>
#include <cstring>

namespace amqp {

frame_decoder::frame_decoder(std::uint32_t frame_max) : frame_max_(std::max(frame_max, frame_min_size)) {}

void frame_decoder::set_frame_max(std::uint32_t frame_max) noexcept {
    frame_max_ = std::max(frame_max, frame_min_size);
}

// Move the unconsumed tail to the front. Only called from feed/prepare, which is when the
// views handed out by next() are documented to expire.
void frame_decoder::compact() {
    if (begin_ == 0) return;
    const std::size_t n = end_ - begin_;
    if (n != 0) std::memmove(buf_.data(), buf_.data() + begin_, n);
    begin_ = 0;
    end_ = n;
}

std::span<std::uint8_t> frame_decoder::prepare(std::size_t n) {
    // Move the unconsumed tail (a partial frame) only when the space after it is too short: a
    // transport reading in place with a fixed chunk would otherwise memmove a partial frame on
    // every read, most of a second copy of each byte.
    if (begin_ == end_) {
        begin_ = end_ = 0;
    } else if (buf_.size() - end_ < n) {
        compact();
    }
    if (buf_.size() - end_ < n) {
        // Grow geometrically but never beyond what is needed when a frame_max-sized frame would
        // do: steady state is one buffer of about frame_max bytes, reused.
        const std::size_t need = end_ + n;
        std::size_t cap = std::max<std::size_t>(buf_.size() * 2, 512);
        cap = std::min<std::size_t>(cap, std::max<std::size_t>(frame_max_, need));
        buf_.resize(std::max(cap, need));
    }
    return {buf_.data() + end_, n};
}

std::span<std::uint8_t> frame_decoder::prepare_read(std::size_t n) {
    const std::size_t have = end_ - begin_;
    if (!ec_ && have >= frame_header_size) {
        const std::size_t whole = std::size_t{detail::frame_payload_size(buf_.data() + begin_)} + frame_overhead;
        if (whole > have && whole - have < n) {
            const std::size_t rest = whole - have;
            // No room for the rest after a large partial frame: grow once (to at most twice a
            // frame or a read) rather than move most of a frame to the front at every read. A
            // small one is cheaper to move than memory is to keep.
            if (buf_.size() - end_ < rest && have > n / 8 && end_ + rest <= 2 * std::max<std::size_t>(frame_max_, n))
                buf_.resize(end_ + rest);
            if (buf_.size() - end_ >= rest) return {buf_.data() + end_, rest};
        }
    }
    return prepare(n);
}

void frame_decoder::commit(std::size_t n) noexcept { end_ += std::min(n, buf_.size() - end_); }

void frame_decoder::feed(bytes_view bytes) {
    // After an error nothing more can be decoded; do not let a broken peer grow the buffer.
    if (ec_ || bytes.empty()) return;
    auto dst = prepare(bytes.size());
    std::memcpy(dst.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

frame_result frame_decoder::next() noexcept {
    // One named result returned on every path (NRVO): assigning decode_frame's result to an
    // earlier-declared variable copied the whole result through the stack per frame. After an error the
    // decoder looks at no bytes and reports the sticky error.
    frame_result r = decode_frame(bytes_view(buf_.data() + begin_, ec_ ? 0 : end_ - begin_), frame_max_, diag_);
    if (ec_) [[unlikely]] {
        r.status = decode_status::error;
        r.ec = ec_;
        return r;
    }
    if (r.status == decode_status::ok) [[likely]] {
        begin_ += r.consumed;
        consumed_total_ += r.consumed;
    } else if (r.status == decode_status::error) {
        ec_ = r.ec;
        diag_.offset += static_cast<std::size_t>(consumed_total_);  // in stream terms
    }
    return r;
}

}  // namespace amqp
