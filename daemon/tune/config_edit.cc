#include "daemon/tune/config_edit.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <sstream>

namespace synguard::tune {

namespace {

struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;  ///< == begin: an insertion
  std::string text;
};

/// Where a flow collection starting at `pos` ('{' or '[') ends (one past its closing bracket).
std::size_t flowEnd(const std::string& text, std::size_t pos) {
  int depth = 0;
  char quote = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      quote = c == quote ? 0 : quote;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return text.size();
}

/// Where a scalar starting at `pos` ends: its closing quote, or (plain) before a comment or
/// the end of the line, or (inside a flow collection) before ',' '}' ']'.
std::size_t scalarEnd(const std::string& text, std::size_t pos, bool in_flow) {
  if (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) {
    const std::size_t close = text.find(text[pos], pos + 1);
    return close == std::string::npos ? text.size() : close + 1;
  }
  std::size_t i = pos;
  while (i < text.size() && text[i] != '\n') {
    if ((text[i] == '#' && i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t')) ||
        (in_flow && (text[i] == ',' || text[i] == '}' || text[i] == ']'))) {
      break;
    }
    ++i;
  }
  while (i > pos && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
    --i;
  }
  return i;
}

std::size_t nextLineStart(const std::string& text, std::size_t pos) {
  const std::size_t nl = text.find('\n', pos);
  return nl == std::string::npos ? text.size() : nl + 1;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string flowText(const Fields& fields) {
  std::string s = "{";
  for (const auto& [k, v] : fields) {
    s += (s.size() > 1 ? ", " : "") + k + ": " + v;
  }
  return s + "}";
}

/// Edits of one mapping-valued key (half_open, syn_rate, per_source) written as `value`.
bool editMap(const std::string& text, const YAML::Node& value, const Fields& fields,
             std::vector<Edit>& edits, std::string& error) {
  const auto pos = static_cast<std::size_t>(value.Mark().pos);
  if (value.IsMap() && value.Style() == YAML::EmitterStyle::Flow) {
    edits.push_back({pos, flowEnd(text, pos), flowText(fields)});
    return true;
  }
  if (!value.IsMap()) {
    // A scalar or nothing where a mapping belongs: the loader would have refused it.
    error = "line " + std::to_string(value.Mark().line + 1) + ": expected a mapping";
    return false;
  }
  std::size_t after_last = 0;
  int indent = 0;
  std::vector<bool> done(fields.size(), false);
  for (auto it = value.begin(); it != value.end(); ++it) {
    const auto key = it->first.as<std::string>();
    indent = it->first.Mark().column;
    after_last =
        std::max(after_last, nextLineStart(text, static_cast<std::size_t>(it->second.Mark().pos)));
    for (std::size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].first == key && it->second.IsScalar()) {
        const auto vpos = static_cast<std::size_t>(it->second.Mark().pos);
        edits.push_back({vpos, scalarEnd(text, vpos, false), fields[f].second});
        done[f] = true;
      }
    }
  }
  for (std::size_t f = 0; f < fields.size(); ++f) {
    if (!done[f]) {
      edits.push_back({after_last, after_last,
                       std::string(static_cast<std::size_t>(indent), ' ') + fields[f].first + ": " +
                           fields[f].second + "\n"});
    }
  }
  return true;
}

struct ServiceEdit {
  const Suggestion* s;
  std::vector<std::pair<std::string, Fields>> maps;
  std::string hold;
};

ServiceEdit wanted(const Suggestion& s) {
  const auto n = [](std::uint32_t v) { return std::to_string(v); };
  ServiceEdit e{&s, {}, n(s.hold_seconds) + "s"};
  e.maps.push_back({"half_open", {{"on", n(s.half_open_on)}, {"off", n(s.half_open_off)}}});
  e.maps.push_back({"syn_rate", {{"on", n(s.syn_rate_on)}, {"off", n(s.syn_rate_off)}}});
  if (s.source_half_open != 0) {
    e.maps.push_back({"per_source",
                      {{"half_open", n(s.source_half_open)},
                       {"syn_rate", n(s.source_syn_rate)},
                       {"syn_burst", n(s.source_syn_burst)}}});
  }
  return e;
}

bool editService(const std::string& text, const YAML::Node& svc, const Suggestion& sug,
                 std::vector<Edit>& edits, std::string& error) {
  if (svc.Style() == YAML::EmitterStyle::Flow) {
    error = "line " + std::to_string(svc.Mark().line + 1) +
            ": a service written as a flow mapping cannot be edited in place";
    return false;
  }
  const ServiceEdit want = wanted(sug);
  std::vector<std::string> missing = {"hold"};
  for (const auto& m : want.maps) {
    missing.push_back(m.first);
  }
  std::size_t insert_at = 0;
  int indent = 0;
  for (auto it = svc.begin(); it != svc.end(); ++it) {
    const auto key = it->first.as<std::string>();
    if (key == "name") {
      indent = it->first.Mark().column;
      insert_at = nextLineStart(text, static_cast<std::size_t>(it->first.Mark().pos));
    }
    const auto m = std::find_if(want.maps.begin(), want.maps.end(),
                                [&key](const auto& w) { return w.first == key; });
    if (m != want.maps.end() && !editMap(text, it->second, m->second, edits, error)) {
      return false;
    }
    if (key == "hold" && it->second.IsScalar()) {
      const auto vpos = static_cast<std::size_t>(it->second.Mark().pos);
      edits.push_back({vpos, scalarEnd(text, vpos, false), want.hold});
    }
    std::erase(missing, key);
  }
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (const auto& m : want.maps) {
    if (std::find(missing.begin(), missing.end(), m.first) != missing.end()) {
      edits.push_back({insert_at, insert_at, pad + m.first + ": " + flowText(m.second) + "\n"});
    }
  }
  if (std::find(missing.begin(), missing.end(), "hold") != missing.end()) {
    edits.push_back({insert_at, insert_at, pad + "hold: " + want.hold + "\n"});
  }
  return true;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t next = nextLineStart(text, pos);
    lines.push_back(text.substr(pos, next - pos));
    pos = next;
  }
  return lines;
}

/// One line of the edit script: ' ' kept, '-' removed, '+' added.
struct DiffLine {
  char op;
  std::size_t a;  ///< index in before (for ' ' and '-')
  std::size_t b;  ///< index in after (for ' ' and '+')
};

std::vector<DiffLine> lcsScript(const std::vector<std::string>& a,
                                const std::vector<std::string>& b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::uint32_t>> l(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      l[i][j] = a[i] == b[j] ? l[i + 1][j + 1] + 1 : std::max(l[i + 1][j], l[i][j + 1]);
    }
  }
  std::vector<DiffLine> script;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      script.push_back({' ', i++, j++});
    } else if (i < n && (j == m || l[i + 1][j] >= l[i][j + 1])) {
      script.push_back({'-', i++, j});  // removals before additions, as diff(1) prints them
    } else {
      script.push_back({'+', i, j++});
    }
  }
  return script;
}

std::string rangeText(std::size_t start, std::size_t count) {
  // A hunk with no lines on a side names the line before it (0 at the top of the file).
  const std::size_t first = count == 0 ? start : start + 1;
  return std::to_string(first) + (count == 1 ? "" : "," + std::to_string(count));
}

void printLine(std::ostringstream& out, char op, const std::string& line) {
  out << op << line;
  if (line.empty() || line.back() != '\n') {
    out << "\n\\ No newline at end of file\n";
  }
}

}  // namespace

bool editConfigText(const std::string& text, const Suggestions& suggestions, std::string& out,
                    std::string& error) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    error = e.what();
    return false;
  }
  std::vector<Edit> edits;
  const YAML::Node services = root.IsMap() ? root["services"] : YAML::Node();
  for (std::size_t i = 0; services && services.IsSequence() && i < services.size(); ++i) {
    const YAML::Node svc = services[i];
    if (!svc.IsMap() || !svc["name"]) {
      continue;
    }
    const auto name = svc["name"].as<std::string>();
    const auto s = std::find_if(suggestions.begin(), suggestions.end(),
                                [&name](const auto& p) { return p.first == name; });
    if (s != suggestions.end() && !editService(text, svc, s->second, edits, error)) {
      return false;
    }
  }
  // Back to front, so earlier positions stay valid; insertions at one place keep their order.
  std::stable_sort(edits.begin(), edits.end(),
                   [](const Edit& a, const Edit& b) { return a.begin > b.begin; });
  out = text;
  for (auto it = edits.begin(); it != edits.end();) {
    auto same = it;
    std::string inserted;
    while (same != edits.end() && same->begin == it->begin && same->end == same->begin) {
      inserted += same->text;
      ++same;
    }
    if (same != it) {
      out.insert(it->begin, inserted);
      it = same;
      continue;
    }
    out.replace(it->begin, it->end - it->begin, it->text);
    ++it;
  }
  return true;
}

std::string unifiedDiff(const std::string& before, const std::string& after,
                        const std::string& name) {
  if (before == after) {
    return "";
  }
  const std::vector<std::string> a = splitLines(before);
  const std::vector<std::string> b = splitLines(after);
  const std::vector<DiffLine> script = lcsScript(a, b);
  constexpr std::size_t kContext = 3;
  std::ostringstream out;
  out << "--- a/" << name << "\n+++ b/" << name << "\n";
  std::size_t k = 0;
  while (k < script.size()) {
    if (script[k].op == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext after the last change that
    // is within 2 * kContext of the one before it.
    const std::size_t first = k >= kContext ? k - kContext : 0;
    std::size_t last = k;  // one past the last change
    for (std::size_t j = k; j < script.size(); ++j) {
      if (script[j].op != ' ') {
        last = j + 1;
      } else if (j - last >= 2 * kContext) {
        break;
      }
    }
    const std::size_t end = std::min(script.size(), last + kContext);
    std::size_t a_count = 0;
    std::size_t b_count = 0;
    for (std::size_t j = first; j < end; ++j) {
      a_count += script[j].op != '+' ? 1 : 0;
      b_count += script[j].op != '-' ? 1 : 0;
    }
    out << "@@ -" << rangeText(script[first].a, a_count) << " +"
        << rangeText(script[first].b, b_count) << " @@\n";
    for (std::size_t j = first; j < end; ++j) {
      const DiffLine& d = script[j];
      printLine(out, d.op, d.op == '+' ? b[d.b] : a[d.a]);
    }
    k = end;
  }
  return out.str();
}

}  // namespace synguard::tune
