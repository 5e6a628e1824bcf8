// Conversations → the annotated frames on stdout, faults on stderr.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "input.hpp"
#include "options.hpp"

namespace amqp_decode {

/// One frame (or protocol header) as the tracer printed it, and when and which way it went.
struct decoded_frame {
    double time = 0;
    amqp::trace::direction dir = amqp::trace::direction::unknown;
    std::string text;  ///< heading, faults, decoded fields, annotated hex dump (as opts asked)
};

struct decoded_conversation {
    std::string title;
    bool timed = false;
    std::vector<decoded_frame> frames;  ///< in the order they were sent
    std::vector<std::string> faults;    ///< each stream's first fault (and its hint: "hint: ...")
};

/// Decodes every stream of every conversation (each from its protocol header, if it has one) and
/// merges the streams of a conversation back into the order they were sent (by time, else by
/// input order). A stream's first fault is a codec error, a truncated frame (how many bytes were
/// needed, how many there were), a broken channel rule or bytes known to be missing.
std::vector<decoded_conversation> decode_all(const std::vector<conversation>& conversations, const settings& s);

/// Decodes every stream of every conversation (each from its protocol header, if it has one),
/// prints the frames of a conversation in the order they were sent (by time, else by input
/// order), and reports each stream's first fault on `err`: a codec error, a truncated frame
/// (how many bytes were needed, how many there were), or a channel rule broken. Returns
/// exit_ok or exit_malformed.
int decode_conversations(std::ostream& out, std::ostream& err, const std::vector<conversation>& conversations,
                         const settings& s);

}  // namespace amqp_decode
