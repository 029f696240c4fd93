// The queue window: only the most urgent 20 calls on offer are shown; withdrawals of held calls
// stay silent, a freed place is filled by the next held call, a more urgent newcomer displaces
// the least urgent shown call.

#include "anxin/dispatcher/offer_window.hpp"

#include <gtest/gtest.h>

using anxin::dispatcher::offer_window;

namespace {

offer_window::offer make(const std::string& id, int priority, std::int64_t received_ms) {
    return {id, priority, received_ms, "offer:" + id};
}

std::string wd(const std::string& id) {
    return "withdrawn:" + id;
}

}  // namespace

TEST(OfferWindow, ShowsTheFirstTwentyAndHoldsTheRest) {
    offer_window w;
    int sent = 0;
    for (int i = 0; i < 300; ++i) {
        auto out = w.add(make("c-" + std::to_string(i), 2, 1000 + i));
        sent += static_cast<int>(out.size());
        if (i < 20)
            EXPECT_EQ(out, std::vector<std::string>{"offer:c-" + std::to_string(i)});
        else
            EXPECT_TRUE(out.empty());
    }
    EXPECT_EQ(sent, 20);
    EXPECT_EQ(w.offered(), 300u);
    EXPECT_EQ(w.shown_count(), 20u);
    EXPECT_TRUE(w.shown("c-19"));
    EXPECT_FALSE(w.shown("c-20"));
}

TEST(OfferWindow, HeldWithdrawalIsSilentShownOneBringsTheNext) {
    offer_window w(3);
    for (int i = 0; i < 6; ++i) w.add(make("c-" + std::to_string(i), 3, 100 + i));
    EXPECT_TRUE(w.withdraw("c-4", wd("c-4")).empty());
    EXPECT_EQ(w.offered(), 5u);
    // Oldest first: c-3 is next.
    EXPECT_EQ(w.withdraw("c-1", wd("c-1")),
              (std::vector<std::string>{"withdrawn:c-1", "offer:c-3"}));
    // Accepted here: nothing to withdraw, the next one comes.
    EXPECT_EQ(w.remove("c-0"), std::vector<std::string>{"offer:c-5"});
    EXPECT_EQ(w.withdraw("c-2", wd("c-2")), std::vector<std::string>{"withdrawn:c-2"});
    EXPECT_EQ(w.shown_count(), 2u);
    EXPECT_EQ(w.offered(), 2u);
    // Unknown calls: nothing.
    EXPECT_TRUE(w.withdraw("c-99", wd("c-99")).empty());
    EXPECT_TRUE(w.remove("c-99").empty());
}

TEST(OfferWindow, UrgentCallsComeFirstAndDisplaceTheLeastUrgent) {
    offer_window w(2);
    w.add(make("t-1", 3, 10));
    w.add(make("t-2", 3, 20));
    EXPECT_TRUE(w.add(make("t-3", 3, 5 + 100)).empty());
    // An emergency: the newest technical alarm shown goes back to the queue.
    EXPECT_EQ(w.add(make("e-1", 1, 500)),
              (std::vector<std::string>{offer_window::queued_withdrawn("t-2"), "offer:e-1"}));
    EXPECT_TRUE(w.shown("e-1"));
    EXPECT_TRUE(w.shown("t-1"));
    EXPECT_FALSE(w.shown("t-2"));
    EXPECT_EQ(w.offered(), 4u);
    // The emergency is taken: the oldest held technical call (t-2, older than t-3) is next.
    EXPECT_EQ(w.withdraw("e-1", wd("e-1")),
              (std::vector<std::string>{"withdrawn:e-1", "offer:t-2"}));
    // An older call of the same priority re-offered (escalated here) ranks before shown ones.
    EXPECT_EQ(w.add(make("t-0", 3, 1)),
              (std::vector<std::string>{offer_window::queued_withdrawn("t-2"), "offer:t-0"}));
    EXPECT_EQ(offer_window::queued_withdrawn("t-2"),
              R"({"withdrawn":{"call_id":"t-2","reason":"queued"}})");
}

TEST(OfferWindow, AGivenOfferAgainIsResentIfShownAndReplacedIfHeld) {
    offer_window w(1);
    w.add(make("a", 2, 1));
    w.add(make("b", 2, 2));
    auto again = make("a", 2, 1);
    again.json = "offer:a v2";
    EXPECT_EQ(w.add(again), std::vector<std::string>{"offer:a v2"});
    auto held = make("b", 2, 2);
    held.json = "offer:b v2";
    EXPECT_TRUE(w.add(held).empty());
    EXPECT_EQ(w.offered(), 2u);
    EXPECT_EQ(w.remove("a"), std::vector<std::string>{"offer:b v2"});
    w.clear();
    EXPECT_EQ(w.offered(), 0u);
    EXPECT_EQ(w.shown_count(), 0u);
}

TEST(OfferWindow, NewsOfAHeldCallFollowsItsOffer) {
    offer_window w(1);
    w.add(make("a", 2, 1));
    w.add(make("b", 2, 2));
    EXPECT_EQ(w.follow("a", "cancelled:a"), std::vector<std::string>{"cancelled:a"});
    EXPECT_EQ(w.follow("zz", "cancelled:zz"), std::vector<std::string>{"cancelled:zz"});
    EXPECT_TRUE(w.follow("b", "cancelled:b").empty());
    EXPECT_EQ(w.withdraw("a", wd("a")),
              (std::vector<std::string>{"withdrawn:a", "offer:b", "cancelled:b"}));
}

TEST(OfferWindow, PausedNoNextOfferUntilTheNextAdd) {
    offer_window w(1);
    w.add(make("a", 2, 1));
    w.add(make("b", 2, 2));
    w.add(make("c", 2, 3));
    w.pause();
    EXPECT_TRUE(w.remove("a").empty());
    EXPECT_TRUE(w.withdraw("b", wd("b")).empty());
    EXPECT_EQ(w.shown_count(), 0u);
    EXPECT_EQ(w.offered(), 1u);
    // Offers again: the operator can take calls again.
    EXPECT_EQ(w.add(make("d", 2, 4)), std::vector<std::string>{"offer:c"});
}
