#include "anxin/protocol/framing.hpp"

#include <google/protobuf/message_lite.h>

#include <cassert>
#include <cstdint>
#include <cstring>

namespace anxin::protocol {

const char* to_string(frame_error e) {
    switch (e) {
        case frame_error::none:
            return "none";
        case frame_error::too_large:
            return "frame too large";
        case frame_error::bad_varint:
            return "malformed length varint";
    }
    return "unknown";
}

frame_decoder::frame_decoder(std::size_t max_body) : max_body_(max_body) {}

void frame_decoder::compact() {
    if (begin_ == 0) return;
    std::size_t live = end_ - begin_;
    if (live > 0) std::memmove(buf_.data(), buf_.data() + begin_, live);
    begin_ = 0;
    end_ = live;
}

std::span<char> frame_decoder::prepare(std::size_t n) {
    compact();
    if (buf_.size() < end_ + n) buf_.resize(end_ + n);
    return {buf_.data() + end_, n};
}

void frame_decoder::commit(std::size_t n) {
    assert(end_ + n <= buf_.size());
    end_ += n;
}

void frame_decoder::feed(std::string_view bytes) {
    auto space = prepare(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
}

frame_decoder::result frame_decoder::next() {
    if (error_ != frame_error::none) return {status::error, {}, error_};

    // Decode the varint32 length prefix without consuming it until the whole frame is here.
    std::uint64_t len = 0;
    std::size_t i = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + begin_);
    const std::size_t avail = end_ - begin_;
    for (;; ++i) {
        if (i == max_varint32_bytes) {
            error_ = frame_error::bad_varint;
            return {status::error, {}, error_};
        }
        if (i == avail) return {status::need_more, {}, frame_error::none};
        const unsigned char b = p[i];
        // The 5th byte carries bits 28..31 only; anything more would not fit in 32 bits.
        if (i == 4 && (b & 0xF0) != 0) {
            error_ = frame_error::bad_varint;
            return {status::error, {}, error_};
        }
        len |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) break;
    }
    const std::size_t header = i + 1;
    // Refuse an oversized frame as soon as its length is known, before buffering its body.
    if (len > max_body_) {
        error_ = frame_error::too_large;
        return {status::error, {}, error_};
    }
    if (avail < header + len) return {status::need_more, {}, frame_error::none};
    std::string_view body(buf_.data() + begin_ + header, static_cast<std::size_t>(len));
    begin_ += header + static_cast<std::size_t>(len);
    if (begin_ == end_) begin_ = end_ = 0;
    return {status::frame, body, frame_error::none};
}

void append_frame(std::string& out, const google::protobuf::MessageLite& msg) {
    std::size_t len = msg.ByteSizeLong();
    std::uint32_t v = static_cast<std::uint32_t>(len);
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
    std::size_t at = out.size();
    out.resize(at + len);
    msg.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + at));
}

std::string encode_frame(const google::protobuf::MessageLite& msg) {
    std::string out;
    append_frame(out, msg);
    return out;
}

}  // namespace anxin::protocol
