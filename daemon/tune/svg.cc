#include "daemon/tune/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

namespace synguard::tune {

namespace {

constexpr double kWidth = 960;
constexpr double kLeft = 80;
constexpr double kRight = 140;  // room for the threshold labels
constexpr double kPanelHeight = 220;
constexpr double kTop = 50;
constexpr double kGap = 70;
constexpr std::size_t kMaxPoints = 1200;  // longer series: the peak of each bucket
constexpr int kTicks = 5;

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

std::string label(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v >= 100 || v == std::floor(v) ? "%.0f" : "%.2g", v);
  return b;
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Time from the start in the unit the span reads best in.
std::string timeLabel(double t, double span) {
  if (span >= 2 * 86400.0) {
    return label(t / 86400.0) + " d";
  }
  if (span >= 2 * 3600.0) {
    return label(t / 3600.0) + " h";
  }
  return label(t) + " s";
}

/// A round axis maximum at or above `v`.
double niceMax(double v) {
  if (v <= 0) {
    return 1;
  }
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * p >= v) {
      return m * p;
    }
  }
  return 10 * p;
}

struct Panel {
  const char* title;
  const char* color;
  double top;
  double on;
  double off;
  std::vector<std::pair<double, double>> points;  ///< (seconds from start, value)
};

/// (time, value) points, at most kMaxPoints (each the highest of its bucket).
std::vector<std::pair<double, double>> points(const ServiceSeries& s, bool half_open) {
  std::vector<std::pair<double, double>> out;
  if (s.samples.empty()) {
    return out;
  }
  const double t0 = s.samples.front().t;
  const std::size_t per = (s.samples.size() + kMaxPoints - 1) / kMaxPoints;
  for (std::size_t i = 0; i < s.samples.size(); i += per) {
    double v = 0;
    for (std::size_t j = i; j < std::min(i + per, s.samples.size()); ++j) {
      v = std::max(v, half_open ? s.samples[j].half_open : s.samples[j].syn_rate);
    }
    out.emplace_back(s.samples[i].t - t0, v);
  }
  return out;
}

void drawPanel(std::ostringstream& o, const Panel& p, double span) {
  double top_value = p.on * 1.15;
  for (const auto& pt : p.points) {
    top_value = std::max(top_value, pt.second);
  }
  const double ymax = niceMax(top_value);
  const double w = kWidth - kLeft - kRight;
  const auto x = [&](double t) { return kLeft + (span > 0 ? t / span : 0) * w; };
  const auto y = [&](double v) { return p.top + kPanelHeight - v / ymax * kPanelHeight; };
  o << "<g>\n<text x=\"" << num(kLeft) << "\" y=\"" << num(p.top - 8) << "\" font-size=\"14\">"
    << p.title << "</text>\n";
  o << "<rect x=\"" << num(kLeft) << "\" y=\"" << num(p.top) << "\" width=\"" << num(w)
    << "\" height=\"" << num(kPanelHeight) << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= kTicks; ++i) {
    const double v = ymax * i / kTicks;
    const double t = span * i / kTicks;
    o << "<line x1=\"" << num(kLeft - 5) << "\" y1=\"" << num(y(v)) << "\" x2=\"" << num(kLeft)
      << "\" y2=\"" << num(y(v)) << "\" stroke=\"#888\"/>"
      << "<text x=\"" << num(kLeft - 8) << "\" y=\"" << num(y(v) + 4)
      << "\" font-size=\"11\" text-anchor=\"end\">" << label(v) << "</text>\n";
    o << "<line x1=\"" << num(x(t)) << "\" y1=\"" << num(p.top + kPanelHeight) << "\" x2=\""
      << num(x(t)) << "\" y2=\"" << num(p.top + kPanelHeight + 5) << "\" stroke=\"#888\"/>"
      << "<text x=\"" << num(x(t)) << "\" y=\"" << num(p.top + kPanelHeight + 18)
      << "\" font-size=\"11\" text-anchor=\"middle\">" << timeLabel(t, span) << "</text>\n";
  }
  o << "<polyline fill=\"none\" stroke=\"" << p.color << "\" stroke-width=\"1.2\" points=\"";
  for (const auto& [t, v] : p.points) {
    o << num(x(t)) << ',' << num(y(v)) << ' ';
  }
  o << "\"/>\n";
  struct Mark {
    const char* name;
    double v;
    const char* color;
  };
  for (const Mark& m : {Mark{"on", p.on, "#c00"}, Mark{"off", p.off, "#080"}}) {
    const auto& [name, v, color] = m;
    o << "<line x1=\"" << num(kLeft) << "\" y1=\"" << num(y(v)) << "\" x2=\"" << num(kLeft + w)
      << "\" y2=\"" << num(y(v)) << "\" stroke=\"" << color
      << "\" stroke-dasharray=\"6,4\"/><text x=\"" << num(kLeft + w + 6) << "\" y=\""
      << num(y(v) + 4) << "\" font-size=\"12\" fill=\"" << color << "\">" << name << " " << label(v)
      << "</text>\n";
  }
  o << "</g>\n";
}

}  // namespace

std::string renderSvg(const ServiceSeries& series, const ServiceAnalysis& a) {
  const double span =
      series.samples.empty()
          ? 0
          : series.samples.back().t + series.samples.back().width - series.samples.front().t;
  const double height = kTop + 2 * kPanelHeight + kGap + 40;
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
       "width=\""
    << num(kWidth) << "\" height=\"" << num(height) << "\" viewBox=\"0 0 " << num(kWidth) << ' '
    << num(height) << "\" font-family=\"sans-serif\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"" << num(kWidth / 2)
    << "\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">synguard tune: service "
    << escape(series.service) << " (" << a.samples << " windows, " << a.baseline
    << " in the baseline)</text>\n";
  const Suggestion& s = a.suggested;
  drawPanel(o,
            Panel{"half-open connections (peak per window)", "#1f5fbf", kTop,
                  double(s.half_open_on), double(s.half_open_off), points(series, true)},
            span);
  drawPanel(o,
            Panel{"SYNs per second", "#b25f00", kTop + kPanelHeight + kGap, double(s.syn_rate_on),
                  double(s.syn_rate_off), points(series, false)},
            span);
  o << "<text x=\"" << num(kWidth / 2) << "\" y=\"" << num(height - 8)
    << "\" font-size=\"12\" text-anchor=\"middle\">time from the first window</text>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace synguard::tune
