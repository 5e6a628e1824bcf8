// The tracer's front: one frame (or the protocol header, or a stream of them) to text.
// The codec judges every frame (its error, offset and field are what we print); the layout
// walkers only say where each field sits.
#include "trace_layout.hpp"

#include <amqp/codec/frame.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>
#include <amqp/codec/trace.hpp>

#include <boost/endian/conversion.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <string>

namespace amqp::trace {
namespace {

using detail::layout;
using detail::span;

/// "[14:03:07.123456 c2] " when the options ask for a time or a connection id, else "".
std::string heading_prefix(const format_options& opts) {
    if (!opts.timestamp && opts.connection_id == 0) return {};
    std::string p = "[";
    if (opts.timestamp) {
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % (86400LL * 1000000);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%06lld", us / 3600000000LL, us / 60000000LL % 60,
                      us / 1000000LL % 60, us % 1000000LL);
        p += buf;
    }
    if (opts.connection_id != 0) p += (opts.timestamp ? " c" : "c") + std::to_string(opts.connection_id);
    return p + "] ";
}

const char* arrow(direction d) noexcept {
    switch (d) {
        case direction::sent: return ">> sent     ";
        case direction::received: return "<< received ";
        case direction::unknown: break;
    }
    return "-- ";
}

std::string offset_text(std::size_t off) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "offset %zu (0x%zx)", off, off);
    return buf;
}

/// "   !! 502 SYNTAX_ERROR at offset 30 (0x1e), field basic.deliver.exchange: shortstr runs ..."
std::string error_text(const error_code& ec, const diagnostics& d) {
    std::string s = "    !! malformed: ";
    if (ec.category() == reply_category())
        s += std::to_string(ec.value()) + " " + reply_code_name(static_cast<std::uint16_t>(ec.value()));
    else s += ec.message();
    s += " at frame " + offset_text(d.offset);
    if (!d.field.empty()) s += ", field " + d.field;
    s += ": " + d.message + "\n";
    return s;
}

void append_fields(std::string& text, const layout& l) {
    std::size_t width = 0;
    for (const auto& f : l.fields)
        if (f.indent == 1) width = std::max(width, f.name.size());
    for (const auto& f : l.fields) {
        text.append(static_cast<std::size_t>(2 + 2 * f.indent), ' ');
        text += f.name;
        if (f.indent == 1) {
            text.append(width - f.name.size() + 2, ' ');
        } else {
            text += ": ";
        }
        text += f.value;
        while (!text.empty() && text.back() == ' ') text.pop_back();
        text += '\n';
    }
}

void header_spans(layout& l, bytes_view frame) {
    if (frame.empty()) return;
    const std::uint8_t t = frame[0];
    const char* tn = t == 1   ? " (method)"
                     : t == 2 ? " (content header)"
                     : t == 3 ? " (body)"
                     : t == 8 ? " (heartbeat)"
                              : " (unknown)";
    l.spans.push_back({0, 1, "frame type = " + std::to_string(t) + tn, false});
    if (frame.size() >= 3)
        l.spans.push_back({1, 2, "channel = " + std::to_string(boost::endian::load_big_u16(frame.data() + 1)), false});
    if (frame.size() >= 7)
        l.spans.push_back(
            {3, 4, "payload size = " + std::to_string(boost::endian::load_big_u32(frame.data() + 3)), false});
}

/// "truncated frame: needed 30 bytes, had 24": the header says how long the frame is; before the
/// header is whole, only that a header is due.
std::string truncated_text(bytes_view rest) {
    const std::uint64_t needed = rest.size() < frame_header_size
                                     ? frame_header_size
                                     : std::uint64_t{boost::endian::load_big_u32(rest.data() + 3)} + frame_overhead;
    return "truncated frame: needed " + std::to_string(needed) + " bytes" +
           (rest.size() < frame_header_size ? " (a frame header)" : "") + ", had " + std::to_string(rest.size());
}

/// Result of formatting one frame: the codec's verdict, with frame-relative offsets.
struct frame_verdict {
    error_code ec;
    diagnostics diag;
};

// Bytes `frame` are exactly one frame as decode_frame delimited it (or, when `framing_ec` is
// set, bytes that failed framing with `framing_diag`).
frame_verdict format_frame_bytes(std::string& text, direction dir, bytes_view frame, const format_options& opts,
                                 error_code framing_ec, const diagnostics& framing_diag) {
    frame_verdict v;
    layout l;
    header_spans(l, frame);
    text += heading_prefix(opts);
    text += arrow(dir);

    if (framing_ec) {
        v.ec = framing_ec;
        v.diag = framing_diag;
        text += "malformed frame (" + std::to_string(frame.size()) + " bytes)\n";
        text += error_text(v.ec, v.diag);
        if (opts.hex) detail::append_hex_dump(text, frame, l.spans, opts.hex_body_limit);
        text += '\n';
        return v;
    }

    const auto type = static_cast<frame_type>(frame[0]);
    const std::uint16_t channel = boost::endian::load_big_u16(frame.data() + 1);
    const bytes_view payload = frame.subspan(frame_header_size, frame.size() - frame_overhead);
    text += "channel " + std::to_string(channel) + "  ";
    const std::string sizes = "  payload " + std::to_string(payload.size()) + " bytes\n";

    switch (type) {
        case frame_type::method: {
            method m;
            const error_code ec = decode_method(payload, m, v.diag);
            std::uint16_t class_id = 0, method_id = 0;
            if (payload.size() >= 4) {
                class_id = boost::endian::load_big_u16(payload.data());
                method_id = boost::endian::load_big_u16(payload.data() + 2);
            }
            const std::string_view name = method_name(class_id, method_id);
            text += "method " + (name.empty() ? std::string("(unknown)") : std::string(name)) + " (" +
                    std::to_string(class_id) + "." + std::to_string(method_id) + ")" + sizes;
            if (payload.size() >= 4) {
                const char* cname = detail::class_name(class_id);
                l.spans.push_back({7, 2,
                                   "class-id = " + std::to_string(class_id) +
                                       (cname != nullptr ? std::string(" (") + cname + ")" : std::string()),
                                   false});
                l.spans.push_back({9, 2,
                                   "method-id = " + std::to_string(method_id) +
                                       (name.empty() ? std::string() : " (" + std::string(name) + ")"),
                                   false});
                detail::walk_method_arguments(class_id, method_id, payload.subspan(4), 11, l);
            }
            if (ec) {
                v.ec = ec;
                v.diag.offset += frame_header_size;
                // A credential that failed to decode must not leak through the "not decoded" bytes.
                if (name == "connection.start-ok" || name == "connection.secure-ok") {
                    std::size_t covered = 11;
                    for (const auto& s : l.spans) covered = std::max(covered, s.offset + s.length);
                    if (covered < frame.size() - 1)
                        l.spans.push_back({covered, frame.size() - 1 - covered, "(not decoded, masked)", true});
                }
            }
            break;
        }
        case frame_type::header: {
            content_header h;
            const error_code ec = decode_content_header(payload, h, v.diag);
            text += "content header";
            if (!ec) text += " (body-size " + std::to_string(h.body_size) + ")";
            text += sizes;
            detail::walk_content_header(payload, frame_header_size, l);
            if (ec) {
                v.ec = ec;
                v.diag.offset += frame_header_size;
            }
            break;
        }
        case frame_type::body: {
            text += "body" + sizes;
            std::string preview = detail::quoted(as_string_view(payload), opts.body_preview);
            preview += "  (" + std::to_string(payload.size()) + " bytes";
            if (payload.size() > opts.body_preview)
                preview += ", first " + std::to_string(opts.body_preview) + " shown";
            preview += ")";
            l.fields.push_back({1, "body", preview});
            l.spans.push_back({7, payload.size(), "body (" + std::to_string(payload.size()) + " bytes)", false});
            break;
        }
        case frame_type::heartbeat: text += "heartbeat\n"; break;
    }
    l.spans.push_back({frame.size() - 1, 1, "frame-end = 0xce", false});
    if (v.ec) text += error_text(v.ec, v.diag);
    if (opts.decoded) append_fields(text, l);
    if (opts.hex) detail::append_hex_dump(text, frame, l.spans, opts.hex_body_limit);
    text += '\n';
    return v;
}

void write_all(std::ostream& os, const std::string& text) {
    os.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

void format_frame(std::ostream& os, direction dir, bytes_view frame, const format_options& opts) {
    write_all(os, frame_to_string(dir, frame, opts));
}

std::string frame_to_string(direction dir, bytes_view frame, const format_options& opts) {
    std::string text;
    diagnostics diag;
    const frame_result r = decode_frame(frame, std::numeric_limits<std::uint32_t>::max(), diag);
    if (r.status == decode_status::ok && r.consumed == frame.size()) {
        format_frame_bytes(text, dir, frame, opts, {}, {});
    } else if (r.status == decode_status::ok) {
        diag.message = std::to_string(frame.size() - r.consumed) + " byte(s) after the frame-end octet";
        diag.offset = r.consumed;
        diag.field = "frame";
        format_frame_bytes(text, dir, frame, opts, reply_code::frame_error, diag);
    } else if (r.status == decode_status::need_more) {
        diag.message = truncated_text(frame);
        diag.offset = frame.size();
        diag.field = "frame";
        format_frame_bytes(text, dir, frame, opts, reply_code::frame_error, diag);
    } else {
        format_frame_bytes(text, dir, frame, opts, r.ec, diag);
    }
    return text;
}

void format_frame(std::ostream& os, direction dir, const frame_view& f, const format_options& opts) {
    byte_buffer bytes(frame_overhead + f.payload.size());
    write_frame_header(bytes.data(), f.type, f.channel, static_cast<std::uint32_t>(f.payload.size()));
    std::copy(f.payload.begin(), f.payload.end(), bytes.begin() + frame_header_size);
    bytes.back() = frame_end;
    format_frame(os, dir, bytes, opts);
}

namespace {

/// The version a protocol header asks for, as its own spec names it, and what it means for a
/// 0-9-1 peer: "AMQP" is followed by a protocol id and three version octets, laid out
/// differently by each generation of the protocol.
std::string protocol_name(const std::array<std::uint8_t, 4>& v) {
    using hdr = std::array<std::uint8_t, 4>;
    const std::string other = " (another protocol, not 0-9-1: a 0-9-1 broker answers with its own header and closes)";
    if (v == hdr{0, 0, 9, 1}) return "0-9-1";
    if (v == hdr{1, 1, 0, 10}) return "0-10" + other;
    if (v == hdr{1, 1, 0, 9}) return "0-9 (RabbitMQ accepts it as 0-9-1)";
    // 0-8 defines its header as 1 1 8 0; most 0-8 clients sent 1 1 9 1.
    if (v == hdr{1, 1, 8, 0} || v == hdr{1, 1, 9, 1}) return "0-8" + other;
    if (v[1] == 1 && v[2] == 0 && v[3] == 0) {
        if (v[0] == 0) return "1.0" + other;
        if (v[0] == 2) return "1.0, TLS layer (protocol id 2)" + other;
        if (v[0] == 3) return "1.0, SASL layer (protocol id 3)" + other;
    }
    return std::to_string(v[1]) + "-" + std::to_string(v[2]) + "-" + std::to_string(v[3]) +
           " (not 0-9-1: a broker answers ours with the version it speaks)";
}

std::string protocol_header_text(direction dir, bytes_view h, const format_options& opts) {
    std::string text = heading_prefix(opts) + arrow(dir);
    std::array<std::uint8_t, 4> version{};
    const header_check c = check_protocol_header(h, &version);
    layout l;
    if (c == header_check::ours || c == header_check::other_version) {
        text += "protocol header AMQP " + protocol_name(version) + "\n";
        l.spans.push_back({0, 4, "\"AMQP\"", false});
        l.spans.push_back({4, 1, "protocol id = " + std::to_string(version[0]), false});
        l.spans.push_back({5, 1, "major version = " + std::to_string(version[1]), false});
        l.spans.push_back({6, 1, "minor version = " + std::to_string(version[2]), false});
        l.spans.push_back({7, 1, "revision = " + std::to_string(version[3]), false});
    } else {
        text += "not a protocol header (" + std::to_string(h.size()) + " bytes)\n";
    }
    if (opts.hex) detail::append_hex_dump(text, h, l.spans, opts.hex_body_limit);
    text += '\n';
    return text;
}

}  // namespace

void format_protocol_header(std::ostream& os, direction dir, bytes_view header, const format_options& opts) {
    write_all(os, protocol_header_text(dir, header, opts));
}

stream_result format_stream(std::ostream& os, direction dir, bytes_view bytes, const format_options& opts,
                            std::uint32_t frame_max) {
    stream_result res;
    std::size_t pos = 0;
    auto fail = [&](std::string text, error_code ec, diagnostics d, std::size_t at) {
        res.ec = ec;
        res.diag = std::move(d);
        res.diag.offset += at;
        write_all(os, text);
    };

    if (!bytes.empty() && check_protocol_header(bytes) != header_check::not_a_header) {
        if (bytes.size() < protocol_header.size()) {
            std::string text = protocol_header_text(dir, bytes, opts);
            diagnostics d;
            d.message = "truncated protocol header: needed 8 bytes, had " + std::to_string(bytes.size());
            d.offset = bytes.size();
            d.field = "protocol-header";
            text += error_text(reply_code::frame_error, d);
            fail(std::move(text), reply_code::frame_error, d, 0);
            return res;
        }
        res.protocol_header = true;
        write_all(os, protocol_header_text(dir, bytes.first(protocol_header.size()), opts));
        pos = protocol_header.size();
    }

    while (pos < bytes.size()) {
        const bytes_view rest = bytes.subspan(pos);
        diagnostics diag;
        const frame_result r = decode_frame(rest, frame_max, diag);
        std::string text;
        if (r.status == decode_status::ok) {
            const frame_verdict v = format_frame_bytes(text, dir, rest.first(r.consumed), opts, {}, {});
            ++res.frames;
            // A payload that does not decode is the connection's end, but the framing is intact:
            // keep showing the frames that follow, and report the first fault.
            if (v.ec && !res.ec) {
                res.ec = v.ec;
                res.diag = v.diag;
                res.diag.offset += pos;
            }
            write_all(os, text);
            pos += r.consumed;
            continue;
        }
        if (r.status == decode_status::need_more) {
            diag.message = truncated_text(rest);
            diag.offset = rest.size();
            diag.field = "frame";
        }
        const error_code ec = r.status == decode_status::need_more ? error_code(reply_code::frame_error) : r.ec;
        format_frame_bytes(text, dir, rest, opts, ec, diag);
        fail(std::move(text), ec, diag, pos);
        return res;
    }
    return res;
}

format_options options_from_environment() {
    static std::atomic<std::uint64_t> next_id{1};
    format_options o;
    const char* v = std::getenv("AMQP_TRACE");
    if (v != nullptr && std::string_view(v) == "time") {
        o.timestamp = true;
        o.connection_id = next_id.fetch_add(1, std::memory_order_relaxed);
    }
    return o;
}

bool enabled_by_environment() noexcept {
    const char* v = std::getenv("AMQP_TRACE");
    if (v == nullptr) return false;
    const std::string_view s(v);
    return !(s.empty() || s == "0" || s == "false" || s == "no" || s == "off");
}

}  // namespace amqp::trace
