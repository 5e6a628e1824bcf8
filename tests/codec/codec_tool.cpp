// A command-line window onto the codec for the cross-check scripts:
//   codec_tool fields          one JSON line per method: ids, name, flags, arguments and types
//   codec_tool golden          one JSON line per golden frame we encode: hex + decoded values
//   codec_tool decode          hex frames on stdin (one per line) -> one JSON line each
//   codec_tool corpus DIR      write the fuzz seed corpus (DIR/fuzz_<target>/...)
// Strings are printed as JSON strings of code points 0-255 (one per byte), so any byte string
// survives; tables as {"name": [tag, value]}.
#include "golden.hpp"

#include <amqp/codec/field_table.hpp>
#include <amqp/codec/frame.hpp>
#include <amqp/codec/message.hpp>
#include <amqp/codec/method_fields.hpp>
#include <amqp/codec/methods.hpp>
#include <amqp/codec/properties.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

using namespace amqp;

std::string json_str(std::string_view s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        }
    }
    return out + "\"";
}

std::string json_value(const field_value& v);

std::string json_table(const field_table& t) {
    std::string out = "{";
    bool first = true;
    for (const auto& [name, v] : t) {
        if (!first) out += ", ";
        first = false;
        out += json_str(name) + ": " + json_value(v);
    }
    return out + "}";
}

std::string json_value(const field_value& v) {
    std::string body = std::visit(
        [](const auto& x) -> std::string {
            using T = std::remove_cvref_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::monostate>) return "null";
            else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
            else if constexpr (std::is_floating_point_v<T>) {
                char buf[40];
                std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(x));
                return buf;
            } else if constexpr (std::is_integral_v<T>) return std::to_string(static_cast<long long>(x));
            else if constexpr (std::is_same_v<T, decimal>)
                return "[" + std::to_string(x.scale) + ", " + std::to_string(x.value) + "]";
            else if constexpr (std::is_same_v<T, timestamp>) return std::to_string(x.seconds);
            else if constexpr (std::is_same_v<T, std::string>) return json_str(x);
            else if constexpr (std::is_same_v<T, byte_array>) return json_str(x.data);
            else if constexpr (std::is_same_v<T, field_table>) return json_table(x);
            else {
                std::string out = "[";
                for (std::size_t i = 0; i < x.size(); ++i) out += (i ? ", " : "") + json_value(x[i]);
                return out + "]";
            }
        },
        v.value);
    return std::string("[\"") + v.tag() + "\", " + body + "]";
}

std::string json_table_view(table_view t) {
    field_table ft;
    diagnostics diag;
    if (decode_table(t, ft, diag)) return "{\"error\": " + json_str(diag.to_string()) + "}";
    return json_table(ft);
}

// Prints a method's arguments as a JSON object keyed by spec names.
struct json_fields {
    std::string out = "{";
    void key(const char* n) {
        if (out.size() > 1) out += ", ";
        out += json_str(n) + ": ";
    }
    void u8(const char* n, std::uint8_t v) { key(n), out += std::to_string(v); }
    void u16(const char* n, std::uint16_t v) { key(n), out += std::to_string(v); }
    void u32(const char* n, std::uint32_t v) { key(n), out += std::to_string(v); }
    void u64(const char* n, std::uint64_t v) { key(n), out += std::to_string(v); }
    void bit(const char* n, bool v) { key(n), out += v ? "true" : "false"; }
    void shortstr(const char* n, std::string_view v) { key(n), out += json_str(v); }
    void longstr(const char* n, std::string_view v) { key(n), out += json_str(v); }
    void table(const char* n, table_view v) { key(n), out += json_table_view(v); }
};

// Lists a method's arguments and their spec types.
struct type_lister {
    std::string out = "[";
    void add(const char* n, const char* type) {
        if (out.size() > 1) out += ", ";
        out += "[" + json_str(n) + ", \"" + type + "\"]";
    }
    void u8(const char* n, std::uint8_t) { add(n, "octet"); }
    void u16(const char* n, std::uint16_t) { add(n, "short"); }
    void u32(const char* n, std::uint32_t) { add(n, "long"); }
    void u64(const char* n, std::uint64_t) { add(n, "longlong"); }
    void bit(const char* n, bool) { add(n, "bit"); }
    void shortstr(const char* n, std::string_view) { add(n, "shortstr"); }
    void longstr(const char* n, std::string_view) { add(n, "longstr"); }
    void table(const char* n, table_view) { add(n, "table"); }
};

std::string json_method(const method& m) {
    return std::visit(
        [](const auto& x) {
            using T = std::remove_cvref_t<decltype(x)>;
            json_fields f;
            for_each_field(x, f);
            return "\"method\": " + json_str(T::name) + ", \"class_id\": " + std::to_string(T::class_index) +
                   ", \"method_id\": " + std::to_string(T::method_index) + ", \"fields\": " + f.out + "}";
        },
        m);
}

std::string json_properties(const basic_properties& p) {
    std::string out = "{";
    auto add = [&](const char* n, const std::string& v) {
        if (out.size() > 1) out += ", ";
        out += json_str(n) + ": " + v;
    };
    auto s = [&](const char* n, const std::optional<std::string_view>& v) {
        if (v) add(n, json_str(*v));
    };
    s("content_type", p.content_type);
    s("content_encoding", p.content_encoding);
    if (p.headers) add("headers", json_table_view(*p.headers));
    if (p.delivery_mode) add("delivery_mode", std::to_string(*p.delivery_mode));
    if (p.priority) add("priority", std::to_string(*p.priority));
    s("correlation_id", p.correlation_id);
    s("reply_to", p.reply_to);
    s("expiration", p.expiration);
    s("message_id", p.message_id);
    if (p.timestamp) add("timestamp", std::to_string(*p.timestamp));
    s("message_type", p.type);
    s("user_id", p.user_id);
    s("app_id", p.app_id);
    s("cluster_id", p.cluster_id);
    return out + "}";
}

std::string json_frame(bytes_view frame) {
    diagnostics diag;
    const auto r = decode_frame(frame, 0xFFFFFFFF, diag);
    if (r.status != decode_status::ok || r.consumed != frame.size())
        return "{\"error\": " + json_str(r.status == decode_status::ok ? "trailing bytes" : diag.to_string()) + "}";
    std::string head = "{\"type\": " + std::to_string(static_cast<int>(r.frame.type)) +
                       ", \"channel\": " + std::to_string(r.frame.channel);
    switch (r.frame.type) {
        case frame_type::method: {
            method m;
            if (auto ec = decode_method(r.frame.payload, m, diag))
                return head + ", \"error\": " + json_str(diag.to_string()) + ", \"code\": " +
                       std::to_string(ec.value()) + "}";
            return head + ", " + json_method(m) + "}";
        }
        case frame_type::header: {
            content_header h;
            if (auto ec = decode_content_header(r.frame.payload, h, diag))
                return head + ", \"error\": " + json_str(diag.to_string()) + "}";
            return head + ", \"class_id\": " + std::to_string(h.class_index) + ", \"weight\": " +
                   std::to_string(h.weight) + ", \"body_size\": " + std::to_string(h.body_size) +
                   ", \"properties\": " + json_properties(h.properties) + "}";
        }
        default:
            return head + ", \"payload\": \"" + amqp_test::to_hex(r.frame.payload) + "\"}";
    }
}

// The frames we encode for the cross-check: every golden method, then a message with every
// property set and one with none.
std::vector<byte_buffer> golden_frames() {
    std::vector<byte_buffer> frames;
    std::uint16_t ch = 0;
    for (const auto& g : amqp_test::golden_methods()) {
        byte_buffer f;
        if (append_method_frame(f, ch++, g.value)) throw std::runtime_error("encode failed");
        frames.push_back(std::move(f));
    }
    basic_properties all;
    for (const auto& p : amqp_test::golden_properties()) p.set(all);
    for (const basic_properties* props : {static_cast<const basic_properties*>(&all), static_cast<const basic_properties*>(nullptr)}) {
        byte_buffer msg;
        const std::string body = "fib(30)=832040";
        if (append_message(msg, 5, basic_deliver{"ctag", 42, false, "", "rpc_queue"},
                           props ? *props : basic_properties{}, as_bytes(body), 4096))
            throw std::runtime_error("encode failed");
        // Split the message back into its frames so each line is one frame.
        frame_decoder dec;
        dec.feed(msg);
        for (auto r = dec.next(); r.status == decode_status::ok; r = dec.next()) {
            byte_buffer f(frame_overhead + r.frame.payload.size());
            write_frame_header(f.data(), r.frame.type, r.frame.channel, static_cast<std::uint32_t>(r.frame.payload.size()));
            std::copy(r.frame.payload.begin(), r.frame.payload.end(), f.begin() + frame_header_size);
            f.back() = frame_end;
            frames.push_back(std::move(f));
        }
    }
    byte_buffer hb;
    append_heartbeat(hb);
    frames.push_back(hb);
    return frames;
}

int cmd_fields() {
    for (std::size_t i = 0; i < std::variant_size_v<method>; ++i) {
        // Walk the alternatives by index via the golden list (which covers every one).
        for (const auto& g : amqp_test::golden_methods()) {
            if (g.value.index() != i) continue;
            std::visit(
                [](const auto& x) {
                    using T = std::remove_cvref_t<decltype(x)>;
                    type_lister l;
                    for_each_field(x, l);
                    std::cout << "{\"class_id\": " << T::class_index << ", \"method_id\": " << T::method_index
                              << ", \"name\": " << json_str(T::name) << ", \"synchronous\": "
                              << (T::synchronous ? "true" : "false")
                              << ", \"content\": " << (T::has_content ? "true" : "false")
                              << ", \"fields\": " << l.out << "]}\n";
                },
                g.value);
            break;
        }
    }
    return 0;
}

int cmd_golden() {
    for (const auto& f : golden_frames())
        std::cout << "{\"hex\": \"" << amqp_test::to_hex(f) << "\", \"decoded\": " << json_frame(f) << "}\n";
    return 0;
}

int cmd_decode() {
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        try {
            std::cout << json_frame(amqp_test::hex(line)) << "\n";
        } catch (const std::exception& e) {
            std::cout << "{\"error\": " << json_str(e.what()) << "}\n";
        }
    }
    return 0;
}

void write_file(const std::filesystem::path& p, bytes_view b) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

int cmd_corpus(const std::filesystem::path& dir) {
    const auto frames = golden_frames();
    byte_buffer stream;
    for (const auto& f : frames) stream.insert(stream.end(), f.begin(), f.end());
    // fuzz_frame_decoder: [frame_max choice][chunk seed] + stream
    for (std::uint8_t choice = 0; choice < 3; ++choice) {
        byte_buffer in = {choice, static_cast<std::uint8_t>(choice * 77 + 1)};
        in.insert(in.end(), stream.begin(), stream.end());
        write_file(dir / "fuzz_frame_decoder" / ("stream_" + std::to_string(choice)), in);
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto& f = frames[i];
        const bytes_view payload = bytes_view(f).subspan(frame_header_size, f.size() - frame_overhead);
        const std::string name = "frame_" + std::to_string(i);
        write_file(dir / "fuzz_roundtrip" / name, f);
        if (f[0] == 1) write_file(dir / "fuzz_method" / name, payload);
        if (f[0] == 2) write_file(dir / "fuzz_content_header" / name, payload);
    }
    // Tables: the golden ones plus one with every tag.
    write_file(dir / "fuzz_field_table" / "server_properties",
               amqp_test::hex("07 70726f64756374 53 00000008 5261626269744d51"));
    write_file(dir / "fuzz_field_table" / "all_tags",
               amqp_test::hex("01 74 74 01 01 62 62 fb 01 42 42 fa 01 73 73 fed4 01 75 75 fde8 01 49 49 fffeee90"
                              "01 69 69 ee6b2800 01 6c 6c fffffffed5fa0e00 01 66 66 3fc00000 01 64 64 c002000000000000"
                              "01 44 44 02 00003039 01 53 53 00000002 6869 01 41 41 0000000b 49 00000001 53 00000001 78"
                              "01 54 54 000000006553f100 01 46 46 00000003 01 6e 56 01 56 56 01 78 78 00000002 00ff"));
    write_file(dir / "fuzz_field_table" / "capabilities",
               amqp_test::hex("0c 6361706162696c6974696573 46 00000019 | 12 7075626c69736865725f636f6e6669726d73 74 01 "
                              "| 01 6e 41 00000002 56 56"));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "fields") return cmd_fields();
    if (cmd == "golden") return cmd_golden();
    if (cmd == "decode") return cmd_decode();
    if (cmd == "corpus" && argc > 2) return cmd_corpus(argv[2]);
    std::cerr << "usage: codec_tool fields | golden | decode | corpus DIR\n";
    return 2;
}
