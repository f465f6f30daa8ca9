#include "sentinelle/collector/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sentinelle/reading.h"

namespace sentinelle::collector {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------- text ---

void AppendEscaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\0': out += "\xEF\xBF\xBD"; break;  // U+FFFD: NUL has no place in HTML text
      default: out += c;
    }
  }
}

std::string Esc(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  AppendEscaped(out, s);
  return out;
}

// Significant digits, no trailing noise ("0.0421", "12.3", "1.2e+03").
std::string Num(double v, int digits = 3) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e9) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  }
  return buf;
}

// SVG coordinates: one decimal is below a pixel.
std::string Coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// ---------------------------------------------------------- JSON reads ---
// The report comes from the collector itself, but a renderer that trusts its
// input would throw on the first field of an unexpected type: every read
// here checks the type and falls back to "absent".

const json* Get(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

const json& Items(const json& j, const char* key) {
  static const json kEmpty = json::array();
  const json* v = Get(j, key);
  return v && v->is_array() ? *v : kEmpty;
}

std::optional<double> Number(const json& j, const char* key) {
  const json* v = Get(j, key);
  if (!v || !v->is_number()) return std::nullopt;
  const double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

// A scalar as text ("" when absent or null; objects and arrays as JSON).
std::string Scalar(const json* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_integer() || v->is_number_unsigned()) return v->dump();
  if (v->is_number()) return Num(v->get<double>(), 4);
  return v->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string Text(const json& j, const char* key) { return Scalar(Get(j, key)); }

// ISO-8601 UTC ("2026-11-22T10:05:00Z", fractional seconds allowed) or Unix
// seconds.
std::optional<int64_t> Time(const json* v) {
  if (!v) return std::nullopt;
  if (v->is_number()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < 0 || d > 1e12) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (!v->is_string()) return std::nullopt;
  std::string s = v->get<std::string>();
  if (s.size() > 20 && s[19] == '.' && s.back() == 'Z') s = s.substr(0, 19) + "Z";
  return ParseUtc(s);
}

std::string ShortTime(int64_t t) {
  std::string s = FormatUtc(t);  // 2026-11-22T10:05:00Z
  if (s.size() == 20) s = s.substr(0, 10) + " " + s.substr(11, 5);
  return s;
}

// A time field for a table cell: normalised when it parses, as given otherwise.
std::string TimeText(const json& j, const char* key) {
  const json* v = Get(j, key);
  if (auto t = Time(v)) return ShortTime(*t) + " UTC";
  return Scalar(v);
}

void Cell(std::string& out, const std::string& text, const char* cls = nullptr) {
  out += cls ? std::string("<td class=\"") + cls + "\">" : std::string("<td>");
  if (text.empty()) out += "&mdash;";
  else AppendEscaped(out, text);
  out += "</td>";
}

void NumCell(std::string& out, const json& j, const char* key, int digits = 3) {
  const auto v = Number(j, key);
  Cell(out, v ? Num(*v, digits) : Text(j, key), "num");
}

// ------------------------------------------------------------- classes ---
// Class names come from fixed tables, never from the report's strings.

const char* HealthClass(const std::string& health) {
  if (health == "ready") return "good";
  if (health == "offline" || health == "silent") return "bad";
  if (health == "degraded" || health == "stale_model" || health == "qc_alarm" ||
      health == "clock_unsynced") {
    return "warn";
  }
  return "neutral";
}

bool DriftOk(const std::string& status) {
  return status.empty() || status == "ok" || status == "stable" || status == "insufficient";
}

const char* DriftClass(const std::string& status) {
  if (status == "ok" || status == "stable") return "good";
  if (DriftOk(status)) return "neutral";
  return "bad";
}

// -------------------------------------------------------------- charts ---

constexpr double kChartW = 560, kChartH = 190;
constexpr double kLeft = 56, kRight = 14, kTop = 26, kBottom = 30;

struct Window {
  std::optional<int64_t> from, to;
};

struct ReferenceLine {
  double y;
  std::string label;
};

struct LineChartSpec {
  const char* kind;  // accuracy | drift
  std::string title;
  std::string y_label;
  std::vector<std::pair<int64_t, double>> points;  // NaN y = gap
  std::vector<ReferenceLine> references;
  Window window;
};

// Points of a series array: [{"t": ISO, <key>: number}, ...], time order.
std::vector<std::pair<int64_t, double>> SeriesPoints(const json& entry, const char* key) {
  std::vector<std::pair<int64_t, double>> pts;
  for (const json& p : Items(entry, "series")) {
    const auto t = Time(Get(p, "t"));
    if (!t) continue;
    const auto y = Number(p, key);
    pts.emplace_back(*t, y ? *y : std::nan(""));
  }
  std::stable_sort(pts.begin(), pts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return pts;
}

void ChartOpen(std::string& out, const char* kind, const std::string& title, double height) {
  out += "<figure><svg class=\"chart\" data-kind=\"";
  out += kind;
  out += "\" role=\"img\" aria-label=\"" + Esc(title) + "\" viewBox=\"0 0 " + Coord(kChartW) +
         " " + Coord(height) + "\" width=\"" + Coord(kChartW) + "\" height=\"" + Coord(height) +
         "\"><title>" + Esc(title) + "</title>";
  out += "<text class=\"chart-title\" x=\"" + Coord(kLeft) + "\" y=\"16\">" + Esc(title) +
         "</text>";
}

void LineChart(std::string& out, const LineChartSpec& c) {
  int64_t x0 = INT64_MAX, x1 = INT64_MIN;
  double y_max = 0, y_min = 0;
  for (const auto& [t, y] : c.points) {
    x0 = std::min(x0, t);
    x1 = std::max(x1, t);
    if (std::isfinite(y)) {
      y_max = std::max(y_max, y);
      y_min = std::min(y_min, y);
    }
  }
  if (c.window.from) x0 = std::min(x0, *c.window.from);
  if (c.window.to) x1 = std::max(x1, *c.window.to);
  if (x1 <= x0) {
    x0 -= 1800;
    x1 += 1800;
  }
  for (const auto& r : c.references) y_max = std::max(y_max, r.y);
  y_max = y_max > y_min ? y_min + (y_max - y_min) * 1.1 : y_min + 1;
  const double pw = kChartW - kLeft - kRight, ph = kChartH - kTop - kBottom;
  const auto X = [&](int64_t t) {
    return kLeft + pw * static_cast<double>(t - x0) / static_cast<double>(x1 - x0);
  };
  const auto Y = [&](double y) { return kTop + ph * (1 - (y - y_min) / (y_max - y_min)); };

  ChartOpen(out, c.kind, c.title, kChartH);
  // Axes, y ticks at min/middle/max, x labels at the ends.
  out += "<g class=\"axes\" stroke=\"#888\" stroke-width=\"1\">";
  out += "<line x1=\"" + Coord(kLeft) + "\" y1=\"" + Coord(kTop) + "\" x2=\"" + Coord(kLeft) +
         "\" y2=\"" + Coord(kTop + ph) + "\"/>";
  out += "<line x1=\"" + Coord(kLeft) + "\" y1=\"" + Coord(kTop + ph) + "\" x2=\"" +
         Coord(kLeft + pw) + "\" y2=\"" + Coord(kTop + ph) + "\"/></g>";
  out += "<g class=\"ticks\">";
  for (const double y : {y_min, (y_min + y_max) / 2, y_max}) {
    out += "<text x=\"" + Coord(kLeft - 6) + "\" y=\"" + Coord(Y(y) + 4) +
           "\" text-anchor=\"end\">" + Num(y, 3) + "</text>";
  }
  out += "<text x=\"" + Coord(kLeft) + "\" y=\"" + Coord(kChartH - 10) + "\">" +
         Esc(ShortTime(x0)) + "</text>";
  out += "<text x=\"" + Coord(kLeft + pw) + "\" y=\"" + Coord(kChartH - 10) +
         "\" text-anchor=\"end\">" + Esc(ShortTime(x1)) + "</text>";
  out += "<text x=\"12\" y=\"" + Coord(kTop + ph / 2) + "\" transform=\"rotate(-90 12 " +
         Coord(kTop + ph / 2) + ")\" text-anchor=\"middle\">" + Esc(c.y_label) + "</text>";
  out += "</g>";
  for (const auto& r : c.references) {
    out += "<line class=\"reference\" x1=\"" + Coord(kLeft) + "\" y1=\"" + Coord(Y(r.y)) +
           "\" x2=\"" + Coord(kLeft + pw) + "\" y2=\"" + Coord(Y(r.y)) +
           "\" stroke=\"#b42318\" stroke-dasharray=\"5 4\"><title>" + Esc(r.label) +
           "</title></line>";
    out += "<text class=\"reference-label\" x=\"" + Coord(kLeft + pw - 2) + "\" y=\"" +
           Coord(Y(r.y) - 3) + "\" text-anchor=\"end\">" + Esc(r.label) + "</text>";
  }
  // The series: a gap (null value) lifts the pen.
  std::string d;
  bool pen_down = false;
  std::vector<std::pair<double, double>> isolated;
  for (size_t i = 0; i < c.points.size(); ++i) {
    const auto& [t, y] = c.points[i];
    if (!std::isfinite(y)) {
      pen_down = false;
      continue;
    }
    const bool next_gap = i + 1 == c.points.size() || !std::isfinite(c.points[i + 1].second);
    if (!pen_down && next_gap) isolated.emplace_back(X(t), Y(y));
    d += pen_down ? " L" : (d.empty() ? "M" : " M");
    d += Coord(X(t)) + " " + Coord(Y(y));
    pen_down = true;
  }
  if (!d.empty()) {
    out += "<path class=\"series\" d=\"" + d +
           "\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.8\" "
           "stroke-linejoin=\"round\"/>";
  }
  for (const auto& [x, y] : isolated) {
    out += "<circle class=\"point\" cx=\"" + Coord(x) + "\" cy=\"" + Coord(y) +
           "\" r=\"2.5\" fill=\"#1f6feb\"/>";
  }
  out += "</svg></figure>";
}

// Current figures as horizontal bars (one per item, from 0), with vertical
// reference lines: what the report shows when a series is too short for a
// line (a short run, a key that just appeared).
struct Bar {
  std::string label;
  double value;
  bool secondary = false;  // drawn lighter (e.g. the validation figure)
};

struct BarChartSpec {
  const char* kind;  // accuracy-now | drift-profile
  std::string title;
  std::string x_label;
  std::vector<Bar> bars;  // finite values only
  std::vector<ReferenceLine> references;
};

void BarChart(std::string& out, const BarChartSpec& c) {
  constexpr double kLabelW = 200, kRowH = 18;
  const double n = static_cast<double>(c.bars.size());
  const double height = kTop + kRowH * n + kBottom;
  const double left = kLabelW, pw = kChartW - left - kRight;
  double x_max = 0;
  for (const Bar& b : c.bars) x_max = std::max(x_max, b.value);
  for (const auto& r : c.references) x_max = std::max(x_max, r.y);
  x_max = x_max > 0 ? x_max * 1.1 : 1;
  const auto X = [&](double v) { return left + pw * std::clamp(v, 0.0, x_max) / x_max; };
  ChartOpen(out, c.kind, c.title, height);
  const double base = kTop + kRowH * n;
  out += "<g class=\"axes\" stroke=\"#888\" stroke-width=\"1\"><line x1=\"" + Coord(left) +
         "\" y1=\"" + Coord(kTop) + "\" x2=\"" + Coord(left) + "\" y2=\"" + Coord(base) +
         "\"/><line x1=\"" + Coord(left) + "\" y1=\"" + Coord(base) + "\" x2=\"" +
         Coord(left + pw) + "\" y2=\"" + Coord(base) + "\"/></g>";
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const Bar& b = c.bars[i];
    const double y = kTop + kRowH * static_cast<double>(i);
    std::string label = b.label.size() > 32 ? b.label.substr(0, 31) + "\xE2\x80\xA6" : b.label;
    out += "<text x=\"4\" y=\"" + Coord(y + 13) + "\">" + Esc(label) + "</text>";
    out += "<rect class=\"bar\" x=\"" + Coord(left) + "\" y=\"" + Coord(y + 3) +
           "\" width=\"" + Coord(X(b.value) - left) + "\" height=\"12\" fill=\"" +
           (b.secondary ? "#98a2b3" : "#1f6feb") + "\"><title>" +
           Esc(b.label + ": " + Num(b.value, 4)) + "</title></rect>";
    out += "<text x=\"" + Coord(X(b.value) + 3) + "\" y=\"" + Coord(y + 13) + "\">" +
           Num(b.value, 3) + "</text>";
  }
  for (const auto& r : c.references) {
    out += "<line class=\"reference\" x1=\"" + Coord(X(r.y)) + "\" y1=\"" + Coord(kTop) +
           "\" x2=\"" + Coord(X(r.y)) + "\" y2=\"" + Coord(base) +
           "\" stroke=\"#b42318\" stroke-dasharray=\"5 4\"><title>" + Esc(r.label) +
           "</title></line>";
  }
  out += "<text x=\"" + Coord(left) + "\" y=\"" + Coord(height - 10) + "\">0</text>";
  out += "<text x=\"" + Coord(left + pw) + "\" y=\"" + Coord(height - 10) +
         "\" text-anchor=\"end\">" + Esc(c.x_label) + " " + Num(x_max, 3) + "</text>";
  out += "</svg></figure>";
}

size_t FinitePoints(const std::vector<std::pair<int64_t, double>>& pts) {
  return static_cast<size_t>(
      std::count_if(pts.begin(), pts.end(), [](const auto& p) { return std::isfinite(p.second); }));
}

struct AlarmRow {
  std::string label;
  std::string reason;
  std::optional<int64_t> start, end;
};

constexpr size_t kMaxTimelineRows = 40;

void AlarmTimeline(std::string& out, const std::vector<AlarmRow>& rows, const Window& window,
                   std::optional<int64_t> generated) {
  int64_t x0 = INT64_MAX, x1 = INT64_MIN;
  for (const auto& r : rows) {
    if (r.start) {
      x0 = std::min(x0, *r.start);
      x1 = std::max(x1, *r.start);
    }
    if (r.end) x1 = std::max(x1, *r.end);
  }
  if (window.from) x0 = *window.from;
  if (window.to) x1 = *window.to;
  else if (generated) x1 = std::max(x1, *generated);
  if (x0 == INT64_MAX) return;  // no alarm with a start time: the table says it all
  if (x1 <= x0) x1 = x0 + 3600;
  const size_t n = std::min(rows.size(), kMaxTimelineRows);
  constexpr double kLabelW = 200, kRowH = 20;
  const double height = kTop + kRowH * static_cast<double>(n) + kBottom;
  const double left = kLabelW, pw = kChartW - left - kRight;
  const auto X = [&](int64_t t) {
    const double f = static_cast<double>(std::clamp(t, x0, x1) - x0) / static_cast<double>(x1 - x0);
    return left + pw * f;
  };
  ChartOpen(out, "alarms", "Alarms over the report window", height);
  out += "<line x1=\"" + Coord(left) + "\" y1=\"" + Coord(kTop + kRowH * n) + "\" x2=\"" +
         Coord(left + pw) + "\" y2=\"" + Coord(kTop + kRowH * n) + "\" stroke=\"#888\"/>";
  for (size_t i = 0; i < n; ++i) {
    const AlarmRow& r = rows[i];
    const double y = kTop + kRowH * static_cast<double>(i);
    std::string label = r.label.size() > 32 ? r.label.substr(0, 31) + "\xE2\x80\xA6" : r.label;
    out += "<text x=\"4\" y=\"" + Coord(y + 14) + "\">" + Esc(label) + "</text>";
    if (!r.start) continue;
    const bool open = !r.end;
    const double a = X(*r.start), b = X(open ? x1 : *r.end);
    out += std::string("<rect class=\"alarm-bar") + (open ? " open" : "") + "\" x=\"" + Coord(a) +
           "\" y=\"" + Coord(y + 4) + "\" width=\"" + Coord(std::max(b - a, 2.0)) +
           "\" height=\"12\" fill=\"" + (open ? "#d92d20" : "#f79009") + "\"><title>" +
           Esc(r.label + ": " + r.reason) + "</title></rect>";
  }
  out += "<text x=\"" + Coord(left) + "\" y=\"" + Coord(height - 10) + "\">" +
         Esc(ShortTime(x0)) + "</text>";
  out += "<text x=\"" + Coord(left + pw) + "\" y=\"" + Coord(height - 10) +
         "\" text-anchor=\"end\">" + Esc(ShortTime(x1)) + "</text>";
  out += "</svg></figure>";
  if (rows.size() > n) {
    out += "<p class=\"note\">" + std::to_string(rows.size() - n) +
           " more alarms are in the table below.</p>";
  }
}

// ------------------------------------------------------------ sections ---

struct Context {
  Window window;
  std::optional<int64_t> generated;
};

std::string Figures(const json& alarm) {
  const json* f = Get(alarm, "figures");
  if (!f || !f->is_object()) return Scalar(f);
  std::string s;
  for (const auto& [k, v] : f->items()) {
    if (!s.empty()) s += ", ";
    s += k + " = " + Scalar(&v);
  }
  return s;
}

// The station an alarm is about ("network" for network-wide ones).
std::string Subject(const json& alarm) {
  std::string subject = Text(alarm, "subject");
  if (subject.empty()) subject = Text(alarm, "station");
  return subject;
}

// `station` is the id of the section's station, "" for network alarms
// (whose subject is then taken from the alarm itself).
void AlarmsSection(std::string& out, const json& alarms, const std::string& station,
                   const Context& ctx) {
  out += "<h3>Alarms</h3>";
  if (alarms.empty()) {
    out += "<p class=\"empty\">No alarm in this window.</p>";
    return;
  }
  std::vector<AlarmRow> rows;
  std::vector<const json*> ordered;
  for (const json& a : alarms) ordered.push_back(&a);
  // Open alarms first, then by start, latest first.
  std::stable_sort(ordered.begin(), ordered.end(), [](const json* a, const json* b) {
    const bool oa = !Time(Get(*a, "end")), ob = !Time(Get(*b, "end"));
    if (oa != ob) return oa;
    return Time(Get(*a, "start")).value_or(0) > Time(Get(*b, "start")).value_or(0);
  });
  for (const json* a : ordered) {
    const std::string subject = Subject(*a);
    const std::string what = Text(*a, "what");
    AlarmRow r;
    r.label = Text(*a, "kind");
    if (!subject.empty() && subject != station) r.label += " \xC2\xB7 " + subject;
    if (!what.empty()) r.label += " \xC2\xB7 " + what;
    r.reason = Text(*a, "reason");
    r.start = Time(Get(*a, "start"));
    r.end = Time(Get(*a, "end"));
    rows.push_back(std::move(r));
  }
  AlarmTimeline(out, rows, ctx.window, ctx.generated);
  out += "<table class=\"alarms\"><thead><tr><th>kind</th>";
  if (station.empty()) out += "<th>subject</th>";
  out += "<th>what</th><th>reason</th><th>start</th><th>end</th><th>figures</th></tr></thead>"
         "<tbody>";
  for (const json* a : ordered) {
    const bool open = !Time(Get(*a, "end"));
    out += open ? "<tr class=\"open\">" : "<tr>";
    Cell(out, Text(*a, "kind"));
    if (station.empty()) {
      const std::string subject = Subject(*a);
      Cell(out, subject.empty() ? "network" : subject);
    }
    Cell(out, Text(*a, "what"));
    Cell(out, Text(*a, "reason"));
    Cell(out, TimeText(*a, "start"));
    if (open) out += "<td><span class=\"badge bad\">ongoing</span></td>";
    else {
      const std::string why = Text(*a, "clear_reason");
      Cell(out, TimeText(*a, "end") + (why.empty() ? "" : ", cleared: " + why));
    }
    Cell(out, Figures(*a), "figures");
    out += "</tr>";
  }
  out += "</tbody></table>";
}

// Network-wide entries pool model versions under version 0.
std::string ModelVersion(const json& e) {
  const std::string v = Text(e, "model_version");
  return v == "0" ? "several" : v;
}

std::string AccuracyTitle(const json& e, const std::string& station) {
  std::string s = station.empty() ? Text(e, "station") : station;
  if (!s.empty()) s += " \xC2\xB7 ";
  s += Text(e, "target") + " +" + Text(e, "horizon_min") + " min";
  const std::string link = Text(e, "link");
  if (!link.empty()) s += " \xC2\xB7 " + link;
  const std::string version = ModelVersion(e);
  if (!version.empty()) s += " \xC2\xB7 model " + version;
  return s;
}

void AccuracySection(std::string& out, const json& entries, const std::string& station,
                     const Context& ctx) {
  out += "<h3>Live accuracy</h3>";
  if (entries.empty()) {
    out += "<p class=\"empty\">No prediction was joined with its reading in this window.</p>";
    return;
  }
  const bool with_station =
      station.empty() && std::any_of(entries.begin(), entries.end(),
                                     [](const json& e) { return !Text(e, "station").empty(); });
  out += "<table class=\"accuracy\"><thead><tr>";
  if (with_station) out += "<th>station</th>";
  out += "<th>target</th><th>horizon (min)</th><th>link</th><th>model</th><th>n</th>"
         "<th>RMSE</th><th>MAE</th><th>bias</th><th>AQI hit rate</th><th>validation RMSE</th>"
         "<th>RMSE / validation</th></tr></thead><tbody>";
  for (const json& e : entries) {
    out += "<tr>";
    if (with_station) Cell(out, Text(e, "station"));
    Cell(out, Text(e, "target"));
    Cell(out, Text(e, "horizon_min"), "num");
    Cell(out, Text(e, "link"));
    Cell(out, ModelVersion(e));
    NumCell(out, e, "n");
    NumCell(out, e, "rmse");
    NumCell(out, e, "mae");
    NumCell(out, e, "bias");
    const auto hit = Number(e, "aqi_hit_rate");
    Cell(out, hit ? Num(*hit * 100, 3) + " %" : Text(e, "aqi_hit_rate"), "num");
    NumCell(out, e, "validation_rmse");
    const auto rmse = Number(e, "rmse"), val = Number(e, "validation_rmse");
    if (rmse && val && *val > 0) {
      const double ratio = *rmse / *val;
      // 1.5x is the degradation rule's default factor (docs/MONITORING.md).
      Cell(out, Num(ratio, 3), ratio > 1.5 ? "num bad" : "num");
    } else {
      Cell(out, "", "num");
    }
    out += "</tr>";
  }
  out += "</tbody></table><div class=\"charts\">";
  int charted = 0;
  // Keys whose series is too short for a line: their current figures.
  BarChartSpec now{"accuracy-now", "Live RMSE now \xC2\xB7 " + (station.empty() ? "network" : station),
                   "RMSE", {}, {}};
  for (const json& e : entries) {
    LineChartSpec c{"accuracy", "RMSE \xC2\xB7 " + AccuracyTitle(e, station), "RMSE",
                    SeriesPoints(e, "rmse"), {}, ctx.window};
    if (FinitePoints(c.points) < 2) {
      const auto rmse = Number(e, "rmse");
      if (!rmse || !std::isfinite(*rmse)) continue;
      std::string key = Text(e, "target") + " +" + Text(e, "horizon_min") + " " + Text(e, "link");
      if (station.empty() && !Text(e, "station").empty()) key = Text(e, "station") + " " + key;
      now.bars.push_back({key + " live", *rmse});
      if (const auto val = Number(e, "validation_rmse"); val && std::isfinite(*val)) {
        now.bars.push_back({key + " validation", *val, true});
      }
      continue;
    }
    if (const auto val = Number(e, "validation_rmse")) {
      c.references.push_back({*val, "validation RMSE " + Num(*val, 3)});
    }
    LineChart(out, c);
    ++charted;
  }
  if (!now.bars.empty() && now.bars.size() <= 2 * kMaxTimelineRows) {
    BarChart(out, now);
    ++charted;
  }
  out += "</div>";
  if (charted == 0) out += "<p class=\"empty\">No RMSE series to chart.</p>";
}

void DriftSection(std::string& out, const json& entries, const std::string& station,
                  const Context& ctx) {
  out += "<h3>Drift</h3>";
  if (entries.empty()) {
    out += "<p class=\"empty\">No drift figures for this station in this window.</p>";
    return;
  }
  out += "<table class=\"drift\"><thead><tr><th>feature</th><th>PSI</th><th>KS</th>"
         "<th>Wasserstein</th><th>JS</th><th>status</th></tr></thead><tbody>";
  for (const json& e : entries) {
    const std::string status = Text(e, "status");
    out += "<tr>";
    Cell(out, Text(e, "feature"));
    NumCell(out, e, "psi");
    NumCell(out, e, "ks");
    NumCell(out, e, "wasserstein");
    NumCell(out, e, "js");
    out += std::string("<td><span class=\"badge ") + DriftClass(status) + "\">" +
           (status.empty() ? "&mdash;" : Esc(status)) + "</span></td></tr>";
  }
  out += "</tbody></table><div class=\"charts\">";
  // Every evaluated feature's current PSI at a glance.
  BarChartSpec profile{"drift-profile", "PSI now \xC2\xB7 " + station, "PSI", {},
                       {{0.1, "0.1 moderate"}, {0.25, "0.25 significant"}}};
  for (const json& e : entries) {
    const auto psi = Number(e, "psi");
    if (Text(e, "status") == "insufficient" || !psi || !std::isfinite(*psi)) continue;
    if (profile.bars.size() < kMaxTimelineRows) profile.bars.push_back({Text(e, "feature"), *psi});
  }
  if (!profile.bars.empty()) BarChart(out, profile);
  int charted = 0;
  for (const json& e : entries) {
    if (DriftOk(Text(e, "status"))) continue;
    LineChartSpec c{"drift", "PSI \xC2\xB7 " + station + " \xC2\xB7 " + Text(e, "feature"), "PSI",
                    SeriesPoints(e, "psi"), {{0.1, "0.1 moderate"}, {0.25, "0.25 significant"}},
                    ctx.window};
    if (FinitePoints(c.points) < 2) continue;  // the profile above has its figure
    LineChart(out, c);
    ++charted;
  }
  out += "</div>";
  if (charted == 0) out += "<p class=\"note\">No drifting feature to chart over time.</p>";
}

size_t OpenAlarms(const json& alarms) {
  return static_cast<size_t>(std::count_if(alarms.begin(), alarms.end(),
                                           [](const json& a) { return !Time(Get(a, "end")); }));
}

size_t Drifting(const json& drift) {
  return static_cast<size_t>(std::count_if(drift.begin(), drift.end(), [](const json& e) {
    return !DriftOk(Text(e, "status"));
  }));
}

constexpr std::string_view kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2939;margin:0;background:#f8f9fb}
header{background:#101828;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#d0d5dd}
main{padding:8px 24px 32px}
section{background:#fff;border:1px solid #e4e7ec;border-radius:8px;padding:8px 16px 16px;margin:16px 0}
h2{font-size:18px;margin:8px 0}
h3{font-size:15px;margin:16px 0 6px;color:#344054}
table{border-collapse:collapse;margin:4px 0 8px;font-size:13px}
th,td{border-bottom:1px solid #eaecf0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#b42318;font-weight:600}
td.figures{font-size:12px;color:#475467;max-width:420px;word-break:break-word}
tr.open td:first-child{border-left:3px solid #d92d20}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.badge.good{background:#d1fadf;color:#05603a}
.badge.warn{background:#fef0c7;color:#93370d}
.badge.bad{background:#fee4e2;color:#b42318}
.badge.neutral{background:#eaecf0;color:#344054}
.charts{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0}
svg.chart{background:#fff;border:1px solid #eaecf0;border-radius:6px;max-width:100%;height:auto}
svg.chart text{font-size:11px;fill:#475467}
svg.chart text.chart-title{font-size:12px;font-weight:600;fill:#1d2939}
svg.chart text.reference-label{fill:#b42318}
p.empty,p.note{color:#667085;font-style:italic;margin:4px 0}
footer{color:#667085;font-size:12px;padding:0 24px 24px}
)css";

void Page(std::string& out, const json& report) {
  const std::string scope = Text(report, "scope");
  Context ctx;
  const json* window = Get(report, "window");
  if (window) {
    ctx.window.from = Time(Get(*window, "from"));
    ctx.window.to = Time(Get(*window, "to"));
  }
  ctx.generated = Time(Get(report, "generated"));
  const json& stations = Items(report, "stations");

  std::string title = "Sentinelle monitoring report";
  if (scope == "station" && stations.size() == 1) title += " \xC2\xB7 " + Text(stations[0], "id");
  else if (!scope.empty()) title += " \xC2\xB7 " + scope;

  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
         "style-src 'unsafe-inline'\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"generator\" content=\"sentinelle-collector\"><title>";
  AppendEscaped(out, title);
  out += "</title><style>";
  out += kStyle;
  out += "</style></head><body><header><h1>";
  AppendEscaped(out, title);
  out += "</h1><p>";
  std::string meta = "Scope: " + (scope.empty() ? std::string("unknown") : scope);
  if (window) {
    meta += " \xC2\xB7 Window: " + (ctx.window.from ? ShortTime(*ctx.window.from) : Text(*window, "from")) +
            " \xE2\x80\x93 " + (ctx.window.to ? ShortTime(*ctx.window.to) : Text(*window, "to")) +
            " UTC";
  }
  const std::string generated = TimeText(report, "generated");
  if (!generated.empty()) meta += " \xC2\xB7 Generated: " + generated;
  AppendEscaped(out, meta);
  out += "</p></header><main>";

  if (!report.is_object()) {
    out += "<p class=\"empty\">This is not a monitoring report (not a JSON object).</p>";
  }

  // At a glance: one row per station.
  if (!stations.empty()) {
    out += "<section id=\"overview\"><h2>Stations</h2><table class=\"overview\"><thead><tr>"
           "<th>station</th><th>health</th><th>open alarms</th><th>alarms</th>"
           "<th>drifting features</th><th>accuracy series</th></tr></thead><tbody>";
    for (size_t i = 0; i < stations.size(); ++i) {
      const json& s = stations[i];
      const std::string health = Text(s, "health");
      const json& alarms = Items(s, "alarms");
      out += "<tr><td><a href=\"#station-" + std::to_string(i) + "\">";
      const std::string id = Text(s, "id");
      out += id.empty() ? "&mdash;" : Esc(id);
      out += std::string("</a></td><td><span class=\"badge ") + HealthClass(health) + "\">" +
             (health.empty() ? "&mdash;" : Esc(health)) + "</span></td>";
      const size_t open = OpenAlarms(alarms);
      Cell(out, std::to_string(open), open > 0 ? "num bad" : "num");
      Cell(out, std::to_string(alarms.size()), "num");
      const size_t drifting = Drifting(Items(s, "drift"));
      Cell(out, std::to_string(drifting), drifting > 0 ? "num bad" : "num");
      Cell(out, std::to_string(Items(s, "accuracy").size()), "num");
      out += "</tr>";
    }
    out += "</tbody></table></section>";
  } else {
    out += "<section id=\"overview\"><h2>Stations</h2>"
           "<p class=\"empty\">No station in this report.</p></section>";
  }

  if (const json* network = Get(report, "network"); network && network->is_object()) {
    out += "<section id=\"network\"><h2>Network</h2>";
    AlarmsSection(out, Items(*network, "alarms"), "", ctx);
    AccuracySection(out, Items(*network, "accuracy"), "", ctx);
    out += "</section>";
  }

  for (size_t i = 0; i < stations.size(); ++i) {
    const json& s = stations[i];
    const std::string id = Text(s, "id");
    const std::string health = Text(s, "health");
    out += "<section class=\"station\" id=\"station-" + std::to_string(i) + "\"><h2>Station ";
    out += id.empty() ? "&mdash;" : Esc(id);
    out += std::string(" <span class=\"badge ") + HealthClass(health) + "\">" +
           (health.empty() ? "health unknown" : Esc(health)) + "</span></h2>";
    AlarmsSection(out, Items(s, "alarms"), id.empty() ? "?" : id, ctx);
    AccuracySection(out, Items(s, "accuracy"), id.empty() ? "?" : id, ctx);
    DriftSection(out, Items(s, "drift"), id.empty() ? "?" : id, ctx);
    out += "</section>";
  }
  out += "</main><footer>PSI: &lt; 0.1 stable, 0.1&ndash;0.25 moderate, &gt; 0.25 significant. "
         "An accuracy key degrades when its live RMSE exceeds 1.5&times; the model&#39;s "
         "validation RMSE (docs/MONITORING.md).</footer></body></html>\n";
}

}  // namespace

std::string RenderReportHtml(const json& report) {
  std::string out;
  try {
    out.reserve(64 * 1024);
    Page(out, report);
    return out;
  } catch (const std::exception& e) {
    // Only allocation failures or a bug get here; say so rather than throw
    // into an HTTP handler.
    std::string page =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sentinelle "
        "monitoring report</title></head><body><p>The report could not be rendered: ";
    AppendEscaped(page, e.what());
    page += "</p></body></html>\n";
    return page;
  }
}

}  // namespace sentinelle::collector
