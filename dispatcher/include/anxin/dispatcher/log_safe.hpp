#pragma once
// Untrusted text (ids, notes, passwords' owners, error texts from peers) made safe to put in a log
// line: an attacker who controls a string must not be able to forge a line, hide the rest of one,
// or fill the disk with one.
//
// Pure; any thread.

#include <cstddef>
#include <string>
#include <string_view>

namespace anxin::dispatcher {

// At most `max` bytes of `s` (cut at a character boundary), escaped:
//  - \n \r \t \\ \" \' as those two-character escapes, other bytes below 0x20 and 0x7f as \xNN;
//  - bytes that are not well-formed UTF-8 (stray continuation bytes, overlong forms, surrogates,
//    beyond U+10FFFF, a sequence cut short) as \xNN, one per byte;
//  - well-formed characters that reorder or hide text (C1 controls U+0080-U+009F, U+2028/U+2029
//    line and paragraph separators, bidirectional overrides and isolates) as \u{XXXX};
//  - everything else, Chinese names included, as it is.
// When `s` is longer than `max`, the result ends with "…(N bytes)", N the original length, so a
// reader knows it was cut and by how much. The result never contains a newline or a raw quote.
std::string log_safe(std::string_view s, std::size_t max = 64);

}  // namespace anxin::dispatcher
