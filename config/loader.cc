// Reading and parsing synguard.yaml. The schema walk is in config/validate.cc; yaml-cpp's
// exceptions (YAML::Exception) are caught here and only here (STYLE.md), and become located
// diagnostics like every other problem.
#include "config/loader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "config/validate.h"
#include "engine/engine.h"
#include "engine/protect/protection.h"

namespace synguard::config {

std::string Diagnostic::toString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

DaemonConfig defaultConfig() {
  // Without a file the daemon still protects: every TCP destination, adaptive, with the
  // engine's default thresholds. A file's `services:` replaces this catch-all.
  DaemonConfig c;
  engine::ServiceConfig all;
  all.name = "all";
  (void)all.addresses.add("0.0.0.0/0");  // constants: cannot fail
  (void)all.addresses.add("::/0");
  all.ports.push_back({1, 65535});
  c.engine.protection.services.push_back(std::move(all));
  return c;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;  // no digits, or a sign
  }
  const std::string_view unit = text.substr(i);
  std::int64_t ms_per = 0;
  if (unit == "ms") {
    ms_per = 1;
  } else if (unit.empty() || unit == "s") {
    ms_per = 1000;
  } else if (unit == "m") {
    ms_per = 60'000;
  } else if (unit == "h") {
    ms_per = 3'600'000;
  } else if (unit == "d") {
    ms_per = 86'400'000;
  } else {
    return std::nullopt;
  }
  const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / ms_per;
  std::int64_t n = 0;
  for (std::size_t j = 0; j < i; ++j) {
    const int digit = text[j] - '0';
    if (n > (limit - digit) / 10) {
      return std::nullopt;  // more milliseconds than 63 bits hold
    }
    n = n * 10 + digit;
  }
  return std::chrono::milliseconds(n * ms_per);
}

namespace {

/// Records where each document starts, building nothing: the first parse of the text.
///
/// yaml-cpp 0.7 has no word for a stray ',' at the top level (jbeder/yaml-cpp#1040, fixed
/// after 0.8 by #1318 and #1319): its parser returns an empty document without consuming the
/// token, again and again. YAML::Load then takes ",anything" for an empty file (the defaults),
/// and YAML::LoadAll allocates documents until memory runs out. A document that starts where
/// the previous one did is that loop, and the text is refused.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnAlias(const YAML::Mark& /*mark*/, YAML::anchor_t /*anchor*/) override {}
  void OnScalar(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                const std::string& /*value*/) override {}
  void OnSequenceStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/,
                       YAML::anchor_t /*anchor*/, YAML::EmitterStyle::value /*style*/) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& /*mark*/, const std::string& /*tag*/, YAML::anchor_t /*anchor*/,
                  YAML::EmitterStyle::value /*style*/) override {}
  void OnMapEnd() override {}
};

/// Parses and validates; every problem becomes a diagnostic (yaml-cpp's exceptions included).
std::vector<Diagnostic> parse(const std::string& text, const std::string& file, DaemonConfig& c,
                              std::vector<Diagnostic>& warnings) {
  const auto at = [&file](const YAML::Mark& m, std::string message) {
    // yaml-cpp's marks are 0-based (its own what() adds 1; we keep only its text).
    return Diagnostic{file, m.line + 1, m.column + 1, std::move(message)};
  };
  try {
    // First pass: how many documents, and no stuck parser (see DocumentStarts).
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts starts;
    while (starts.marks.size() < 3 && parser.HandleNextDocument(starts)) {
      const std::size_t n = starts.marks.size();
      if (n >= 2 && starts.marks[n - 1].pos == starts.marks[n - 2].pos) {
        const YAML::Mark m = starts.marks[n - 1];
        return {at(m, "YAML: unexpected '" + text.substr(static_cast<std::size_t>(m.pos), 1) +
                          "' outside a [list] or {map}")};
      }
    }
    // Second pass: the first document as nodes (YAML::Load ignores any other).
    std::vector<Diagnostic> errors = validateDocument(YAML::Load(text), file, c, warnings);
    if (starts.marks.size() > 1) {
      errors.push_back(
          at(starts.marks[1], "a second YAML document ('---'): the configuration is one document"));
    }
    return errors;
  } catch (const YAML::DeepRecursion& e) {
    return {at(e.mark, "YAML: nested too deeply (" + std::to_string(e.depth()) +
                           " levels): not a configuration")};
  } catch (const YAML::Exception& e) {
    return {at(e.mark, "YAML: " + (e.msg.empty() ? std::string("malformed") : e.msg))};
  }
}

}  // namespace

LoadResult loadConfigString(std::string_view yaml, std::string_view name) {
  const std::string file(name);
  DaemonConfig c = defaultConfig();
  c.source_path = file;
  std::vector<Diagnostic> warnings;
  std::vector<Diagnostic> errors = parse(std::string(yaml), file, c, warnings);
  if (errors.empty()) {
    // What the schema accepts the engine must accept too (the daemon relies on it). A refusal
    // here means the schema missed a rule: say so rather than fail at start or reload.
    if (auto ok = engine::Engine::check(c.engine); !ok) {
      errors.push_back(
          {file, 1, 1, "the engine refuses this configuration: " + ok.error().message});
    }
  }
  LoadResult r;
  if (errors.empty()) {
    r.config = std::move(c);
  }
  r.errors = std::move(errors);
  r.warnings = std::move(warnings);
  return r;
}

LoadResult loadConfigFile(const std::string& path) {
  LoadResult failed;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    failed.errors.push_back({path, 0, 0, "cannot read the configuration file"});
    return failed;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  if (content.size() > (std::size_t{16} << 20)) {
    failed.errors.push_back({path, 0, 0, "larger than 16 MiB: not a configuration file"});
    return failed;
  }
  // A file with nothing in it (or only comments) is a mistake — a truncated write, an editor
  // crash — not a request for the built-in defaults: those apply when there is no file.
  bool empty = true;
  std::istringstream lines(content);
  for (std::string line; empty && std::getline(lines, line);) {
    const auto first = line.find_first_not_of(" \t\r");
    empty = first == std::string::npos || line[first] == '#';
  }
  if (empty) {
    failed.errors.push_back({path, 1, 1,
                             "the file is empty: no configuration (remove the file to use the "
                             "built-in defaults)"});
    return failed;
  }
  return loadConfigString(content, path);
}

}  // namespace synguard::config
