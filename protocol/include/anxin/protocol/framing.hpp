#pragma once
// Length-delimited framing of the device link: each frame is a varint32 length followed by that
// many bytes of one protobuf message. Pure code over bytes, no I/O: the session reads into the
// decoder and pulls frames out, tests feed it one byte at a time.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace google::protobuf {
class MessageLite;
}

namespace anxin::protocol {

// Largest frame body the protocol allows (protocol/README.md, "Framing").
inline constexpr std::size_t max_frame_body = 4096;
// A varint32 takes at most 5 bytes.
inline constexpr std::size_t max_varint32_bytes = 5;

enum class frame_error {
    none,
    too_large,   // declared length exceeds the limit
    bad_varint,  // more than 5 length bytes, or a 5th byte with bits beyond 32
};

const char* to_string(frame_error e);

// Incremental decoder. Not thread-safe; owned by one session.
// After an error the decoder stays in error: the byte stream can no longer be trusted.
class frame_decoder {
  public:
    enum class status { need_more, frame, error };
    struct result {
        status st = status::need_more;
        std::string_view body;  // valid until the next prepare()/feed()/next()
        frame_error error = frame_error::none;
    };

    explicit frame_decoder(std::size_t max_body = max_frame_body);

    // Space to read up to n more bytes into; follow with commit(bytes actually read).
    std::span<char> prepare(std::size_t n);
    void commit(std::size_t n);
    // Convenience for tests and clients: prepare + copy + commit.
    void feed(std::string_view bytes);

    // Extracts the next complete frame, if any.
    result next();

    // Bytes received but not yet returned as frames.
    std::size_t buffered() const { return end_ - begin_; }

  private:
    void compact();

    std::size_t max_body_;
    std::string buf_;
    std::size_t begin_ = 0;  // first unconsumed byte
    std::size_t end_ = 0;    // one past the last received byte
    frame_error error_ = frame_error::none;
};

// Appends varint32(len) + serialized message to out.
void append_frame(std::string& out, const google::protobuf::MessageLite& msg);
std::string encode_frame(const google::protobuf::MessageLite& msg);

}  // namespace anxin::protocol
