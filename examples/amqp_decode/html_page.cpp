// The interactive page's HTML. Byte i of frame k is <span class="b" data-i="i">; field j is
// <li class="field" data-start=".." data-len="..">; the script links the two by those numbers
// only, so the page's highlighting is exactly the tracer's field offsets.
#include "html_page.hpp"

#include "html_frame.hpp"

#include <algorithm>
#include <cstdio>
#include <regex>

namespace amqp_decode {
namespace {

std::string esc(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

/// What a reply code means, for the inline explanation (docs/reply-codes.md has the full story).
const char* reply_meaning(int code) {
    switch (code) {
        case 200: return "success: a normal close";
        case 311: return "content too large (soft: the channel closes)";
        case 312: return "no route: a mandatory message matched no queue (RabbitMQ; 0-9's code)";
        case 313: return "no consumers for an immediate message";
        case 320: return "connection forced closed by an operator or a broker shutdown";
        case 402: return "invalid path: unknown virtual host";
        case 403: return "access refused (RabbitMQ also refuses a login with it)";
        case 404: return "not found: no such queue or exchange (soft: the channel closes)";
        case 405: return "resource locked, e.g. an exclusive queue of another connection";
        case 406: return "precondition failed, e.g. a redeclare with other settings, an unknown delivery tag";
        case 501: return "frame error: a frame that cannot be delimited (hard: the connection closes)";
        case 502: return "syntax error: fields that do not decode";
        case 503: return "command invalid: a method not valid here";
        case 504: return "channel error: a frame on a channel that is not open";
        case 505: return "unexpected frame: a frame of the wrong type at this point";
        case 506: return "resource error: out of a resource, e.g. channels";
        case 530: return "not allowed, e.g. no access to the virtual host";
        case 540: return "not implemented";
        case 541: return "internal error";
        default: return nullptr;
    }
}

/// An inline explanation for a field's label, or "".
std::string explain(const std::string& label) {
    static const std::regex code(R"(^reply-code = (\d+))");
    std::smatch m;
    if (std::regex_search(label, m, code))
        if (const char* what = reply_meaning(std::stoi(m[1].str()))) return what;
    if (label.rfind("bits:", 0) == 0) return "bit arguments share octets, first in the lowest bit (spec 4.2.5.2)";
    if (label.rfind("property-flags", 0) == 0) return "one bit per property present, bit 15 first";
    if (label.rfind("frame-end", 0) == 0) return "every frame ends with 0xCE; anything else: the reader lost its place";
    return "";
}

std::string time_text(double t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "+%.6f s", t);
    return buf;
}

/// Bytes of one field shown in the hex view; the rest of a longer field is summarised.
constexpr std::size_t max_span_bytes = 256;

void write_frame(std::ostream& out, const decoded_frame& d, bool timed, std::size_t id) {
    const page_frame f = parse_frame_text(d.text);
    const char* side = d.dir == amqp::trace::direction::received ? "broker" : "client";
    out << "<details class=\"frame " << side << (f.notes.empty() ? "" : " fault") << "\" id=\"f" << id
        << "\"><summary>";
    if (timed) out << "<span class=\"t\">" << time_text(d.time) << "</span> ";
    out << esc(f.heading) << "</summary>\n";
    for (const auto& n : f.notes) out << "<p class=\"note\">" << esc(n) << "</p>\n";
    out << "<div class=\"parts\"><ol class=\"fields\">\n";
    for (const auto& s : f.spans) {
        out << "<li class=\"field\" tabindex=\"0\" data-start=\"" << s.offset << "\" data-len=\"" << s.length << "\">"
            << "<span class=\"off\">" << s.offset << "+" << s.length << "</span> " << esc(s.label);
        const std::string e = explain(s.label);
        if (!e.empty()) out << " <span class=\"explain\">" << esc(e) << "</span>";
        out << "</li>\n";
    }
    out << "</ol><div class=\"hex\">";
    // A long field (a large body) shows its first bytes only: the page stays small enough to open,
    // and its field still says the whole length.
    char buf[8];
    std::size_t column = 0;
    auto shown_end = [&](std::size_t i) {
        for (const auto& s : f.spans)
            if (i >= s.offset && i < s.offset + s.length)
                return std::min(s.offset + s.length, s.offset + max_span_bytes);
        return i + 1;
    };
    for (std::size_t i = 0; i < f.bytes.size();) {
        const std::size_t end = std::min(shown_end(i), f.bytes.size());
        for (; i < end; ++i) {
            if (f.masked[i])
                std::snprintf(buf, sizeof buf, "**");
            else
                std::snprintf(buf, sizeof buf, "%02x", f.bytes[i]);
            out << "<span class=\"b" << (f.masked[i] ? " m" : "") << "\" data-i=\"" << i << "\">" << buf << "</span>";
            if (++column % 16 == 0) out << "<br>";
        }
        std::size_t span_end = i;
        for (const auto& s : f.spans)
            if (i > s.offset && i < s.offset + s.length) span_end = s.offset + s.length;
        if (span_end > i) {
            out << "<span class=\"more\"> ... " << span_end - i << " more bytes</span><br>";
            column = 0;
            i = span_end;
        }
    }
    out << "</div></div>\n";
    if (!f.decoded.empty()) {
        out << "<pre class=\"decoded\">";
        for (const auto& l : f.decoded) out << esc(l) << "\n";
        out << "</pre>\n";
    }
    out << "</details>\n";
}

constexpr const char* style = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
.cols{display:flex;font-weight:bold;border-bottom:1px solid #999;margin-bottom:.5em}
.cols div{flex:1}
.frame{border:1px solid #ccc;border-radius:4px;margin:.3em 0;background:#fafafa;width:58%}
.frame.broker{margin-left:42%;background:#f3f7ff}
.frame.fault{border-color:#c33}
summary{cursor:pointer;padding:.2em .5em;font-family:monospace;white-space:pre-wrap}
.t{color:#777}
.note{color:#a00;font-family:monospace;margin:.2em .5em}
.parts{display:flex;gap:1em;padding:.3em .5em}
.fields{flex:1;margin:0;padding-left:1.2em;font-family:monospace;font-size:12px}
.field{cursor:pointer;padding:0 .2em}
.field .off{color:#999}
.explain{color:#06c;font-family:system-ui,sans-serif}
.hex{font-family:monospace;font-size:12px;white-space:nowrap}
.b{padding:0 2px;cursor:pointer}
.b.m{color:#999}
.more{color:#777;font-style:italic}
.hl{background:#ffe066}
.sel{outline:2px solid #e69500}
.decoded{margin:.3em .5em;font-size:12px;color:#444;background:#fff;padding:.3em}
.legend{color:#555}
)";

constexpr const char* script = R"(
(function(){
  function fieldsOf(frame){return Array.prototype.slice.call(frame.querySelectorAll('.field'));}
  function clear(frame){frame.querySelectorAll('.hl').forEach(function(e){e.classList.remove('hl');});}
  function light(field){
    var frame=field.closest('.frame'); clear(frame);
    var s=+field.dataset.start, n=+field.dataset.len;
    field.classList.add('hl');
    frame.querySelectorAll('.b').forEach(function(b){var i=+b.dataset.i; if(i>=s&&i<s+n) b.classList.add('hl');});
  }
  function fieldAt(frame,i){
    var f=fieldsOf(frame);
    for(var k=0;k<f.length;k++){var s=+f[k].dataset.start; if(i>=s&&i<s+(+f[k].dataset.len)) return f[k];}
    return null;
  }
  function target(e){
    var f=e.target.closest('.field'); if(f) return f;
    var b=e.target.closest('.b'); if(b) return fieldAt(b.closest('.frame'),+b.dataset.i);
    return null;
  }
  document.addEventListener('mouseover',function(e){var f=target(e); if(f) light(f);});
  function select(f){
    document.querySelectorAll('.sel').forEach(function(x){x.classList.remove('sel');});
    f.classList.add('sel'); light(f);
  }
  document.addEventListener('click',function(e){var f=target(e); if(f) select(f);});
  // A link to "#f12" opens frame 12; "#f12/7" also selects its field at byte 7.
  var m=/^#(f\d+)(?:\/(\d+))?$/.exec(location.hash);
  var fr=m&&document.getElementById(m[1]);
  if(fr){fr.open=true; if(m[2]){var f=fieldAt(fr,+m[2]); if(f) select(f);} fr.scrollIntoView();}
})();
)";

}  // namespace

void write_page(std::ostream& out, const std::vector<decoded_conversation>& conversations, const std::string& source) {
    out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>AMQP 0-9-1: " << esc(source)
        << "</title>\n<style>" << style << "</style></head><body>\n<h1>AMQP 0-9-1 conversation: " << esc(source)
        << "</h1>\n<p class=\"legend\">Written by <code>amqp_decode --html</code>. Client frames on the left, broker "
           "frames on the right, in the order they were sent. Open a frame to see its fields; point at a field to "
           "light its bytes, or at a byte to light its field. Passwords are shown as <code>**</code> and are not "
           "in this file.</p>\n";
    std::size_t id = 0;
    for (const auto& c : conversations) {
        if (!c.title.empty()) out << "<h2>" << esc(c.title) << "</h2>\n";
        out << "<div class=\"cols\"><div>client</div><div>broker</div></div>\n";
        for (const auto& f : c.frames) write_frame(out, f, c.timed, id++);
        for (const auto& fault : c.faults) out << "<p class=\"note\">" << esc(fault) << "</p>\n";
    }
    out << "<script>" << script << "</script>\n</body></html>\n";
}

}  // namespace amqp_decode
