#include "anxin/dispatcher/log_safe.hpp"

#include <gtest/gtest.h>

using anxin::dispatcher::log_safe;

TEST(log_safe, plain_ids_and_chinese_names_pass_unchanged) {
    EXPECT_EQ(log_safe("op-a1"), "op-a1");
    EXPECT_EQ(log_safe("徐建国"), "徐建国");
    EXPECT_EQ(log_safe(""), "");
}

TEST(log_safe, a_forged_line_stays_on_one_line) {
    const std::string forged =
        "x\n[2026-01-01 00:00:00.000] [info] console (1.2.3.4:5): supervisor sup-1 logged in";
    auto s = log_safe(forged, 1000);
    EXPECT_EQ(s.find('\n'), std::string::npos);
    EXPECT_EQ(s.rfind("x\\n[2026", 0), 0u) << s;
    EXPECT_EQ(log_safe("a\r\tb"), "a\\r\\tb");
}

TEST(log_safe, quotes_backslashes_and_control_bytes_are_escaped) {
    EXPECT_EQ(log_safe("it's \"x\" \\"), "it\\'s \\\"x\\\" \\\\");
    EXPECT_EQ(log_safe(std::string("a\0b\x1b[31m\x7f", 9)), "a\\x00b\\x1b[31m\\x7f");
}

TEST(log_safe, malformed_utf8_is_escaped_byte_by_byte) {
    EXPECT_EQ(log_safe("\xff\xfe"), "\\xff\\xfe");
    EXPECT_EQ(log_safe("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
    EXPECT_EQ(log_safe("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
    EXPECT_EQ(log_safe("ok\xe5\xbe"), "ok\\xe5\\xbe");                // cut short
    EXPECT_EQ(log_safe("\x80x"), "\\x80x");                           // stray continuation
    EXPECT_EQ(log_safe("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
}

TEST(log_safe, characters_that_hide_or_reorder_text_are_escaped) {
    EXPECT_EQ(log_safe("a\xe2\x80\xa8"
                       "b"),
              "a\\u{2028}b");  // line separator
    EXPECT_EQ(log_safe("\xe2\x80\xae"
                       "evil"),
              "\\u{202e}evil");                    // right-to-left override
    EXPECT_EQ(log_safe("\xc2\x85"), "\\u{0085}");  // NEL
}

TEST(log_safe, long_text_is_cut_with_the_original_length) {
    const std::string big(65536, 'A');
    auto s = log_safe(big);
    EXPECT_EQ(s, std::string(64, 'A') + "\xe2\x80\xa6(65536 bytes)");
    EXPECT_EQ(log_safe("abcdef", 3), "abc\xe2\x80\xa6(6 bytes)");
    EXPECT_EQ(log_safe("abc", 3), "abc");
}

TEST(log_safe, a_cut_never_splits_a_character) {
    // 徐 is three bytes: with room for four, one fits and the next is left out whole.
    auto s = log_safe("徐建国", 4);
    EXPECT_EQ(s, "徐\xe2\x80\xa6(9 bytes)");
}
