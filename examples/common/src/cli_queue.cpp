// The request queue's options shared by servers and clients: --queue-type and --confirms.
#include <programs/cli.hpp>

namespace rpc::cli {

rpc::queue_type queue_type_from(const arguments& args) {
    const std::optional<std::string> text = args.value("queue-type");
    if (!text) return rpc::queue_type::transient;
    if (auto t = rpc::parse_queue_type(*text)) return *t;
    throw usage_error("--queue-type must be transient, classic or quorum, got '" + *text + "'");
}

bool confirms_from(const arguments& args) {
    return args.flag("confirms") || queue_type_from(args) != rpc::queue_type::transient;
}

}  // namespace rpc::cli
