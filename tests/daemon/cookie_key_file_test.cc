#include "daemon/inline/cookie_key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace synguard::daemon {
namespace {

namespace fs = std::filesystem;

class CookieKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "synguard-key-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }
  void write(const std::string& p, const std::string& text, mode_t mode = 0600) const {
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
  }
  fs::path dir_;
};

TEST_F(CookieKeyFileTest, CreatesA0600FileThatRoundTrips) {
  const std::string p = path("cookie.key");
  auto a = loadOrCreateCookieKey(p);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_TRUE(a->created);
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  auto b = loadOrCreateCookieKey(p);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_FALSE(b->created);
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_EQ(a->key.k0, b->key.k0);
  EXPECT_EQ(a->key.k1, b->key.k1);
  // A fresh file elsewhere gets a different key.
  auto c = loadOrCreateCookieKey(path("other.key"));
  ASSERT_TRUE(c.has_value());
  EXPECT_NE(a->bytes, c->bytes);
}

TEST_F(CookieKeyFileTest, ParsesHexInEitherCaseWithComments) {
  auto k = parseCookieKey(
      "# shared by gw1 and gw2\n# second comment\n00112233445566778899AABBccddeeff\n");
  ASSERT_TRUE(k.has_value()) << k.error().message;
  EXPECT_EQ((*k)[0], 0x00);
  EXPECT_EQ((*k)[10], 0xaa);
  EXPECT_EQ((*k)[15], 0xff);
  EXPECT_TRUE(parseCookieKey("0123456789abcdef0123456789abcdef").has_value());
}

TEST_F(CookieKeyFileTest, RejectsMalformedKeysWithTheReason) {
  const struct {
    const char* text;
    const char* says;
  } cases[] = {
      {"", "found 0"},
      {"0123456789abcdef0123456789abcde\n", "found 31"},
      {"0123456789abcdef0123456789abcdef0\n", "found 33"},
      {"0123456789abcdef0123456789abcdeg\n", "not one"},
      {"0123456789abcdef0123456789abcdef\n\n", "not one"},
      {"0123456789abcdef0123456789abcdef trailing", "not one"},
      {"00000000000000000000000000000000\n", "all zeros"},
  };
  for (const auto& c : cases) {
    auto k = parseCookieKey(c.text);
    ASSERT_FALSE(k.has_value()) << c.text;
    EXPECT_NE(k.error().message.find(c.says), std::string::npos) << k.error().message;
  }
}

TEST_F(CookieKeyFileTest, RefusesFilesOthersCanRead) {
  const std::string p = path("open.key");
  write(p, "0123456789abcdef0123456789abcdef\n", 0640);
  auto k = loadOrCreateCookieKey(p);
  ASSERT_FALSE(k.has_value());
  EXPECT_NE(k.error().message.find("chmod 600"), std::string::npos) << k.error().message;
  EXPECT_NE(k.error().message.find(p), std::string::npos);
  ::chmod(p.c_str(), 0600);
  EXPECT_TRUE(loadOrCreateCookieKey(p).has_value());
}

TEST_F(CookieKeyFileTest, RefusesDirectoriesBadContentAndMissingParents) {
  fs::create_directory(dir_ / "adir");
  auto d = loadOrCreateCookieKey(path("adir"));
  ASSERT_FALSE(d.has_value());
  const std::string bad = path("bad.key");
  write(bad, "not a key\n");
  auto b = loadOrCreateCookieKey(bad);
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().message.find(bad), std::string::npos);
  auto m = loadOrCreateCookieKey(path("missing/dir/cookie.key"));
  ASSERT_FALSE(m.has_value());
  EXPECT_NE(m.error().message.find("cannot create"), std::string::npos) << m.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
}

TEST_F(CookieKeyFileTest, ASymlinkIsNotFollowed) {
  const std::string target = path("real.key");
  write(target, "0123456789abcdef0123456789abcdef\n");
  const std::string link = path("link.key");
  fs::create_symlink(target, link);
  EXPECT_FALSE(loadOrCreateCookieKey(link).has_value());
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::directory_iterator(dir)) {
    v.push_back(e.path().filename().string());
  }
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(CookieKeyFileTest, CreationLeavesOnlyTheKeyFile) {
  ASSERT_TRUE(loadOrCreateCookieKey(path("cookie.key")).has_value());
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"cookie.key"});
}

TEST_F(CookieKeyFileTest, NeverReplacesAnExistingKey) {
  const std::string p = path("cookie.key");
  write(p, "# ours\n00112233445566778899aabbccddeeff\n");
  auto k = loadOrCreateCookieKey(p);
  ASSERT_TRUE(k.has_value()) << k.error().message;
  EXPECT_FALSE(k->created);
  EXPECT_EQ(k->bytes[0], 0x00);
  EXPECT_EQ(k->bytes[15], 0xff);
  std::ifstream in(p);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "# ours\n00112233445566778899aabbccddeeff\n");
  // A bad existing file is refused, not replaced.
  write(p, "garbage\n");
  EXPECT_FALSE(loadOrCreateCookieKey(p).has_value());
  std::ifstream again(p);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>()),
            "garbage\n");
}

TEST_F(CookieKeyFileTest, ConcurrentCreatorsAllGetTheOneKeyThatWasWritten) {
  const std::string p = path("cookie.key");
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<Result<CookieKeyFile>> got(kThreads, Unexpected{Error{"not run"}});
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) {
      }
      got[static_cast<std::size_t>(i)] = loadOrCreateCookieKey(p);
    });
  }
  go.store(true);
  for (auto& t : threads) {
    t.join();
  }
  int created = 0;
  for (const auto& g : got) {
    ASSERT_TRUE(g.has_value()) << g.error().message;
    created += g->created ? 1 : 0;
    EXPECT_EQ(g->bytes, got[0]->bytes);
  }
  EXPECT_EQ(created, 1);
  auto again = loadOrCreateCookieKey(p);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->bytes, got[0]->bytes);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"cookie.key"});
}

TEST_F(CookieKeyFileTest, ACrashLeftoverIsIgnored) {
  // What a crash between writing the temporary file and linking it leaves: a partial key under
  // the temporary name, never under the final one.
  write(path(".cookie.key.tmp.AbC123"), "# synguard SYN-cookie master key: 128 bits, hex.\n0123");
  auto k = loadOrCreateCookieKey(path("cookie.key"));
  ASSERT_TRUE(k.has_value()) << k.error().message;
  EXPECT_TRUE(k->created);
  EXPECT_TRUE(fs::exists(dir_ / ".cookie.key.tmp.AbC123"));
  struct stat st {};
  ASSERT_EQ(::stat(path("cookie.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(st.st_nlink, 1U);  // the temporary name is gone
}

}  // namespace
}  // namespace synguard::daemon
