#include "owned_method.hpp"

#include <amqp/message.hpp>

namespace amqp::detail {

error_code owned_method::assign(const method& m) {
    payload_.resize(method_payload_size(m));
    return encode_method(m, payload_.data());
}

method owned_method::get() const {
    // Our own encoding of a method that encoded without error: it decodes.
    method m;
    diagnostics d;
    (void)decode_method(bytes_view(payload_), m, d);
    return m;
}

error_code owned_message::assign(const basic_publish& m, const basic_properties& props, bytes_view body) {
    if (auto ec = method_.assign(m)) return ec;
    content_header h;
    h.class_index = 60;
    h.body_size = body.size();
    h.properties = props;
    header_.resize(content_header_payload_size(h));
    if (auto ec = encode_content_header(h, header_.data())) return ec;
    body_.assign(body.begin(), body.end());
    return {};
}

basic_publish owned_message::method() const { return std::get<basic_publish>(method_.get()); }

basic_properties owned_message::properties() const {
    content_header h;
    diagnostics d;
    (void)decode_content_header(bytes_view(header_), h, d);
    return h.properties;
}

}  // namespace amqp::detail
