#include <gtest/gtest.h>
TEST(DaemonPlaceholder, Builds) { EXPECT_EQ(1 + 1, 2); }
