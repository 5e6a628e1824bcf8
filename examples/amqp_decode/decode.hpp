// Conversations → the annotated frames on stdout, faults on stderr.
#pragma once

#include <ostream>
#include <vector>

#include "input.hpp"
#include "options.hpp"

namespace amqp_decode {

/// Decodes every stream of every conversation (each from its protocol header, if it has one),
/// prints the frames of a conversation in the order they were sent (by time, else by input
/// order), and reports each stream's first fault on `err`: a codec error, a truncated frame
/// (how many bytes were needed, how many there were), or a channel rule broken. Returns
/// exit_ok or exit_malformed.
int decode_conversations(std::ostream& out, std::ostream& err, const std::vector<conversation>& conversations,
                         const settings& s);

}  // namespace amqp_decode
