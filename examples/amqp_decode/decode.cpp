// Each stream frame by frame, with the checks a peer would make and hints for bytes that are
// not AMQP at all; the streams of a conversation merged back into the order they were sent.
#include "decode.hpp"

#include <algorithm>
#include <amqp/codec/error.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/printable.hpp>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>

namespace amqp_decode {
namespace {

using amqp::trace::direction;

struct fault {
    amqp::error_code ec;
    amqp::diagnostics diag;  ///< offset: in the stream
    std::string hint;
};

struct item {
    double time = 0;
    std::size_t order = 0;
    std::string text;
};

struct outcome {
    std::vector<item> items;
    std::size_t frames = 0;
    std::optional<fault> first_fault;
};

std::uint16_t be16(amqp::bytes_view b) { return static_cast<std::uint16_t>(b[0] << 8 | b[1]); }

/// The channel rules of §4.2.3 a frame can break on its own.
std::optional<std::string> channel_rule(const amqp::frame_view& f, amqp::reply_code& code) {
    const std::string ch = std::to_string(f.channel);
    code = amqp::reply_code::command_invalid;
    switch (f.type) {
        case amqp::frame_type::heartbeat:
            if (f.channel == 0) return std::nullopt;
            code = amqp::reply_code::unexpected_frame;
            return "heartbeat on channel " + ch +
                   ": heartbeats belong to channel 0 (the spec asks 503 in "
                   "4.2.3 and 501 in 4.2.7; RabbitMQ closes the connection with 505)";
        case amqp::frame_type::header:
        case amqp::frame_type::body:
            if (f.channel != 0) return std::nullopt;
            return "content frame on channel 0: content belongs to a channel (503, spec 4.2.3)";
        case amqp::frame_type::method: {
            if (f.payload.size() < 2) return std::nullopt;  // the codec reports this one
            const std::uint16_t cls = be16(f.payload);
            if (cls == 10 && f.channel != 0)
                return "connection method on channel " + ch +
                       ": the connection class lives on channel 0 (503, spec 4.2.3)";
            if (cls != 10 && f.channel == 0)
                return "class " + std::to_string(cls) + " method on channel 0: only connection methods go there (503)";
            return std::nullopt;
        }
    }
    return std::nullopt;
}

/// Why bytes that do not frame might not be AMQP frames at all.
std::string hint_for(amqp::bytes_view rest, std::size_t pos) {
    if (rest.size() >= 4 && std::memcmp(rest.data(), "AMQP", 4) == 0)
        return pos == 0 ? ""
                        : "a protocol header in the middle of the stream: the start of another connection? "
                          "Decode each connection on its own (a capture is split for you)";
    if (rest[0] == 'A') return "the first byte is 0x41 ('A'): a protocol header would be \"AMQP\" then 0 0 9 1";
    if (rest.size() >= 3 && rest[0] == 0x16 && rest[1] == 0x03)
        return "0x16 0x03 starts a TLS record: this connection is encrypted (amqps), its AMQP cannot be seen "
               "in a capture";
    const std::size_t n = std::min<std::size_t>(rest.size(), 48);
    std::size_t text = 0;
    for (std::size_t i = 0; i < n; ++i)
        if ((rest[i] >= 0x20 && rest[i] < 0x7f) || rest[i] == '\n' || rest[i] == '\r' || rest[i] == '\t') ++text;
    if (n >= 4 && text * 10 >= n * 9)
        return "these bytes look like text, not frames: " +
               amqp::printable(std::string_view(reinterpret_cast<const char*>(rest.data()), n), 48) +
               " (a hex dump whose format was not recognised? another protocol on the port?)";
    return "";
}

/// A header whose version bytes are the characters "0091" (typed as text) rather than the numbers.
std::string header_hint(amqp::bytes_view header) {
    if (header.size() < amqp::protocol_header.size()) return "";
    for (std::size_t i = 4; i < 8; ++i)
        if (header[i] < '0' || header[i] > '9') return "";
    return "the version bytes are the characters \"" +
           std::string(reinterpret_cast<const char*>(header.data()) + 4, 4) +
           "\" (0x30-0x39): a 0-9-1 header carries the numbers 0 0 9 1, bytes 00 00 09 01";
}

std::string insert_after_first_line(std::string text, const std::string& lines) {
    const std::size_t nl = text.find('\n');
    text.insert(nl == std::string::npos ? text.size() : nl + 1, lines);
    return text;
}

void note_fault(outcome& o, amqp::error_code ec, amqp::diagnostics d, std::string hint) {
    if (!o.first_fault) o.first_fault = fault{ec, std::move(d), std::move(hint)};
}

outcome decode_stream(const stream& s, const settings& st) {
    outcome o;
    const amqp::bytes_view bytes(s.bytes);
    std::size_t pos = 0;
    auto add = [&](std::size_t end, std::string text) {
        o.items.push_back({s.time_at(end), o.items.size(), std::move(text)});
    };
    // The protocol header (ours, another version, or cut short) is the codec tracer's to show.
    if (!bytes.empty() && amqp::check_protocol_header(bytes) != amqp::header_check::not_a_header) {
        std::ostringstream os;
        const auto r = amqp::trace::format_stream(
            os, s.dir, bytes.first(std::min(bytes.size(), amqp::protocol_header.size())), st.opts, st.frame_max);
        if (r.ec) note_fault(o, r.ec, r.diag, s.note);
        std::string text = os.str();
        if (const std::string h = header_hint(bytes); !h.empty())
            text = insert_after_first_line(std::move(text), "    hint: " + h + "\n");
        add(std::min(bytes.size(), amqp::protocol_header.size()), std::move(text));
        pos = amqp::protocol_header.size();
    }
    while (pos < bytes.size()) {
        const amqp::bytes_view rest = bytes.subspan(pos);
        amqp::diagnostics diag;
        const amqp::frame_result r = amqp::decode_frame(rest, st.frame_max, diag);
        const std::size_t len = r.status == amqp::decode_status::ok ? r.consumed : rest.size();
        std::ostringstream os;
        const auto v = amqp::trace::format_stream(os, s.dir, rest.first(len), st.opts, st.frame_max);
        std::string text = os.str();
        if (r.status != amqp::decode_status::ok) {
            std::string hint = r.status == amqp::decode_status::error ? hint_for(rest, pos) : "";
            if (!s.note.empty()) hint = hint.empty() ? s.note : hint + "; " + s.note;
            if (!hint.empty()) text = insert_after_first_line(std::move(text), "    hint: " + hint + "\n");
            // The tracer may show these bytes without complaint (a protocol header mid-stream),
            // yet a peer reading frames here would fail as decode_frame did: report that.
            amqp::diagnostics d = v.ec ? v.diag : diag;
            d.offset += pos;
            note_fault(o, v.ec ? v.ec : amqp::error_code(r.ec), d, hint);
            add(bytes.size(), std::move(text));
            return o;
        }
        ++o.frames;
        if (v.ec) {
            amqp::diagnostics d = v.diag;
            d.offset += pos;
            note_fault(o, v.ec, d, s.note);
        }
        amqp::reply_code code{};
        // A payload the codec already refused (an unknown class, say) needs no second verdict.
        if (auto rule = v.ec ? std::nullopt : channel_rule(r.frame, code)) {
            text = insert_after_first_line(std::move(text), "    !! channel rule: " + *rule + "\n");
            amqp::diagnostics d;
            d.offset = pos + 1;
            d.field = "frame.channel";
            d.message = *rule;
            note_fault(o, code, d, "");
        }
        add(pos + r.consumed, std::move(text));
        pos += r.consumed;
    }
    if (s.cut && !o.first_fault) {
        amqp::diagnostics d;
        d.offset = bytes.size();
        d.field = "stream";
        d.message = "the input stops short: " + s.note;
        add(bytes.size(), std::string("    !! ") + d.message + "\n\n");
        note_fault(o, amqp::reply_code::frame_error, d, "");
    }
    return o;
}

std::string time_prefix(double t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "[%10.6f] ", t);
    return buf;
}

std::string stream_label(const conversation& c, const stream& s) {
    if (c.title.empty()) return "";
    const std::string who = s.dir == direction::sent       ? "client -> broker"
                            : s.dir == direction::received ? "broker -> client"
                                                           : "frame";
    return c.title.substr(0, c.title.find(':')) + ", " + who + ": ";
}

}  // namespace

std::vector<decoded_conversation> decode_all(const std::vector<conversation>& conversations, const settings& s) {
    std::vector<decoded_conversation> result;
    for (const conversation& c : conversations) {
        decoded_conversation d;
        d.title = c.title;
        d.timed = c.timed;
        std::vector<outcome> outcomes;
        std::vector<std::pair<const item*, std::size_t>> merged;  // item, stream index
        for (const stream& st : c.streams) outcomes.push_back(decode_stream(st, s));
        for (std::size_t i = 0; i < outcomes.size(); ++i)
            for (const item& it : outcomes[i].items) merged.emplace_back(&it, i);
        // By time; on a tie, the earlier stream (the client's) first, then the stream's own order.
        std::stable_sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) {
            if (a.first->time != b.first->time) return a.first->time < b.first->time;
            return a.second < b.second;
        });
        for (const auto& [it, i] : merged) d.frames.push_back({it->time, c.streams[i].dir, it->text});
        for (std::size_t i = 0; i < outcomes.size(); ++i) {
            const auto& f = outcomes[i].first_fault;
            if (!f) continue;
            std::ostringstream err;
            err << stream_label(c, c.streams[i]);
            if (f->ec.category() == amqp::reply_category())
                err << f->ec.value() << " " << amqp::reply_code_name(static_cast<std::uint16_t>(f->ec.value()));
            else
                err << f->ec.message();
            err << " at input offset " << f->diag.offset;
            if (!f->diag.field.empty()) err << ", field " << f->diag.field;
            err << ": " << f->diag.message << " (" << outcomes[i].frames << " whole frame(s) read)";
            d.faults.push_back(err.str());
            if (!f->hint.empty()) d.faults.push_back("hint: " + f->hint);
        }
        result.push_back(std::move(d));
    }
    return result;
}

int decode_conversations(std::ostream& out, std::ostream& err, const std::vector<conversation>& conversations,
                         const settings& s) {
    int status = exit_ok;
    bool first = true;
    for (const decoded_conversation& c : decode_all(conversations, s)) {
        if (!c.title.empty()) out << (first ? "" : "\n") << "== " << c.title << "\n\n";
        first = false;
        for (const decoded_frame& f : c.frames) out << (c.timed ? time_prefix(f.time) : "") << f.text;
        out.flush();
        for (const std::string& line : c.faults) {
            if (line.rfind("hint: ", 0) != 0) status = exit_malformed;
            err << "amqp_decode: " << line << "\n";
        }
    }
    return status;
}

}  // namespace amqp_decode
