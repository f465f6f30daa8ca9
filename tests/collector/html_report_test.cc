// The report's HTML renderer: structure, charts and their geometry, escaping
// of every string that comes from the report, empty and malformed input.
// tests/collector/html_report_browser_test.cc renders the page in Chromium.
#include "sentinelle/collector/html_report.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "report_sample.h"

namespace sentinelle::collector {
namespace {

using nlohmann::json;
using testing::AccuracyEntry;
using testing::DriftEntry;
using testing::SampleReport;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The `d` attributes of path.series elements, in document order.
std::vector<std::string> SeriesPaths(const std::string& html) {
  std::vector<std::string> out;
  static const std::regex re(R"re(<path class="series" d="([^"]*)")re");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

TEST(HtmlReport, SampleHasSectionsChartsAndTables) {
  const std::string html = RenderReportHtml(SampleReport());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
  // Accuracy: 2 + 1 station series and the network one; drift: only the
  // drifting feature; alarms: one timeline per section that has alarms.
  EXPECT_EQ(Count(html, "data-kind=\"accuracy\""), 4u);
  EXPECT_EQ(Count(html, "data-kind=\"drift\""), 1u);
  EXPECT_EQ(Count(html, "data-kind=\"alarms\""), 2u);
  // Every station with evaluated drift figures has its PSI profile (one bar
  // per evaluated feature, pm10 is insufficient); no series is too short.
  EXPECT_EQ(Count(html, "data-kind=\"drift-profile\""), 2u);
  EXPECT_EQ(Count(html, "<rect class=\"bar\""), 4u);
  EXPECT_EQ(Count(html, "data-kind=\"accuracy-now\""), 0u);
  EXPECT_EQ(Count(html, "<rect class=\"alarm-bar"), 3u);
  EXPECT_EQ(Count(html, "<rect class=\"alarm-bar open\""), 2u);
  EXPECT_EQ(SeriesPaths(html).size(), 5u);
  // Reference lines: validation RMSE per accuracy chart, two PSI thresholds
  // on the drift chart and on each profile.
  EXPECT_EQ(Count(html, "<line class=\"reference\""), 4u + 2u + 2u * 2u);
  EXPECT_NE(html.find("PSI \xC2\xB7 abj-cocody \xC2\xB7 pm25"), std::string::npos);
  EXPECT_EQ(html.find("PSI \xC2\xB7 abj-cocody \xC2\xB7 temperature_c"), std::string::npos);
  // Tables and the overview.
  EXPECT_NE(html.find("id=\"station-0\""), std::string::npos);
  EXPECT_NE(html.find("id=\"station-1\""), std::string::npos);
  EXPECT_NE(html.find("id=\"network\""), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge good\">ready</span>"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge warn\">degraded</span>"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge bad\">drift</span>"), std::string::npos);
  EXPECT_NE(html.find("pm25 drifts alone: 0 of 3 neighbours drift"), std::string::npos);
  EXPECT_NE(html.find("drifting_neighbours = 0"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge bad\">ongoing</span>"), std::string::npos);
  // 14.2 / 8.1 = 1.75 > 1.5: flagged; 6.1 / 5.9 is not.
  EXPECT_NE(html.find("<td class=\"num bad\">1.75</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">1.03</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">91 %</td>"), std::string::npos);
  EXPECT_NE(html.find("<th>subject</th>"), std::string::npos);  // network alarms table
  EXPECT_NE(html.find("<td>network</td><td>o3</td>"), std::string::npos);
  EXPECT_NE(html.find("<td>several</td>"), std::string::npos);  // pooled model versions
  EXPECT_NE(html.find("<td>pm25/60/network/v7</td>"), std::string::npos);
  // Self-contained: nothing to fetch, no script.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
}

TEST(HtmlReport, SeriesGeometryFollowsTheWindowAndTheValues) {
  json report = SampleReport();
  // One station, one accuracy entry: RMSE 1 at the window start, 3 at the end.
  json entry = AccuracyEntry("pm25", 60, "network", 2.0, 2.0);
  entry["series"] = {{{"t", FormatUtc(testing::kReportTo)}, {"rmse", 3.0}},  // out of order
                     {{"t", FormatUtc(testing::kReportFrom)}, {"rmse", 1.0}}};
  entry.erase("validation_rmse");
  report["stations"] = {{{"id", "s"}, {"accuracy", {entry}}}};
  report.erase("network");
  const std::string html = RenderReportHtml(report);
  const auto paths = SeriesPaths(html);
  ASSERT_EQ(paths.size(), 1u) << html;
  // Plot area x from 56 to 546; y from 26 (top, = 1.1 x max) to 160 (0).
  // 3 / 3.3 of 134 px above the bottom -> 38.2; 1 -> 119.4.
  EXPECT_EQ(paths[0], "M56.0 119.4 L546.0 38.2");
  EXPECT_EQ(Count(html, "<line class=\"reference\""), 0u);
}

TEST(HtmlReport, GapsInASeriesLiftThePen) {
  json report = SampleReport();
  report["stations"] = {{{"id", "s"}, {"accuracy", {AccuracyEntry("pm25", 60, "network", 5, 5, 10)}}}};
  report.erase("network");
  const auto paths = SeriesPaths(RenderReportHtml(report));
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(Count(paths[0], "M"), 2u) << paths[0];
  // 25 points, hour 10 null: 10 points (M + 9 L), then 14 (M + 13 L).
  EXPECT_EQ(Count(paths[0], "L"), 22u) << paths[0];
}

TEST(HtmlReport, IsolatedPointsGetAMarker) {
  json report = SampleReport();
  json entry = AccuracyEntry("pm25", 60, "network", 5, 5);
  // A point between gaps gets a marker (a lone point makes no line).
  entry["series"] = {{{"t", FormatUtc(testing::kReportFrom + 3600)}, {"rmse", 4.0}},
                     {{"t", FormatUtc(testing::kReportFrom + 7200)}, {"rmse", nullptr}},
                     {{"t", FormatUtc(testing::kReportFrom + 10800)}, {"rmse", 5.0}},
                     {{"t", FormatUtc(testing::kReportFrom + 14400)}, {"rmse", 6.0}}};
  report["stations"] = {{{"id", "s"}, {"accuracy", {entry}}}};
  const std::string html = RenderReportHtml(report);
  EXPECT_EQ(Count(html, "<circle class=\"point\""), 1u);
}

TEST(HtmlReport, HostileStringsAreEscapedEverywhere) {
  const std::string evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>&amp;";
  json report = SampleReport();
  report["scope"] = evil;
  report["window"]["from"] = evil;  // not a time: shown as given, escaped
  json& s = report["stations"][1];
  s["id"] = evil;
  s["health"] = evil;
  s["alarms"][0]["kind"] = evil;
  s["alarms"][0]["reason"] = evil;
  s["alarms"][0]["figures"] = {{evil, evil}};
  s["accuracy"][0]["target"] = evil;
  s["accuracy"][0]["link"] = evil;
  s["accuracy"][0]["model_version"] = evil;
  s["drift"][0]["feature"] = evil;
  s["drift"][0]["status"] = evil;  // an unknown status counts as drifting: charted
  report["network"]["alarms"][0]["subject"] = evil;
  report["network"]["alarms"][0]["what"] = evil;
  const std::string html = RenderReportHtml(report);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("alert(1)</"), std::string::npos);
  EXPECT_EQ(html.find("\"'>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x "
                      "onerror=alert(2)&gt;&amp;amp;"),
            std::string::npos);
  // Class names never come from the report.
  EXPECT_NE(html.find("<span class=\"badge neutral\">&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge bad\">&lt;script&gt;"), std::string::npos);
  // Every opened tag of the charts is closed: as many <svg as </svg>.
  EXPECT_EQ(Count(html, "<svg"), Count(html, "</svg>"));
  EXPECT_EQ(Count(html, "<svg"), 9u);  // 7 and the two stations' PSI profiles
}

TEST(HtmlReport, NulAndInvalidUtf8DoNotBreakThePage) {
  json report = SampleReport();
  report["stations"][0]["id"] = std::string("a\0b", 3);
  report["stations"][0]["alarms"] = {{{"kind", "x"}, {"figures", {{"k", {1, "\xff\xfe"}}}}}};
  std::string html;
  ASSERT_NO_THROW(html = RenderReportHtml(report));
  EXPECT_NE(html.find("a\xEF\xBF\xBD" "b"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(HtmlReport, EmptySectionsSaySo) {
  json report = {{"generated", FormatUtc(testing::kReportTo)},
                 {"scope", "station"},
                 {"window", {{"from", FormatUtc(testing::kReportFrom)}, {"to", FormatUtc(testing::kReportTo)}}},
                 {"stations", {{{"id", "abj-abobo"}, {"health", "silent"}, {"alarms", json::array()},
                                {"accuracy", json::array()}, {"drift", json::array()}}}}};
  const std::string html = RenderReportHtml(report);
  EXPECT_NE(html.find("<title>Sentinelle monitoring report \xC2\xB7 abj-abobo</title>"),
            std::string::npos);
  EXPECT_NE(html.find("No alarm in this window."), std::string::npos);
  EXPECT_NE(html.find("No prediction was joined with its reading in this window."),
            std::string::npos);
  EXPECT_NE(html.find("No drift figures for this station in this window."), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge bad\">silent</span>"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("id=\"network\""), std::string::npos);
  // Drift figures but no drifting feature; accuracy without a series.
  // (json::array: clang reads `= {x}` of one json value as a copy of x, gcc as
  // an array of one; the report wants arrays.)
  report["stations"][0]["drift"] = json::array({DriftEntry("pm25", 0.01, "ok")});
  json entry = AccuracyEntry("pm25", 60, "network", 5, 5);
  entry.erase("series");
  report["stations"][0]["accuracy"] = json::array({entry});
  const std::string html2 = RenderReportHtml(report);
  EXPECT_NE(html2.find("No drifting feature to chart over time."), std::string::npos);
  EXPECT_EQ(html2.find("No RMSE series to chart."), std::string::npos);
  // A short run: the current figures are charted (live and validation RMSE
  // as bars, the PSI profile), never a line of one point.
  EXPECT_EQ(Count(html2, "data-kind=\"accuracy-now\""), 1u);
  EXPECT_EQ(Count(html2, "data-kind=\"drift-profile\""), 1u);
  EXPECT_EQ(Count(html2, "<rect class=\"bar\""), 3u);
  EXPECT_TRUE(SeriesPaths(html2).empty());
  json one = AccuracyEntry("pm25", 60, "network", 5, 5);
  one["series"] = json::array({json{{"t", FormatUtc(testing::kReportTo)}, {"rmse", 5}}});
  report["stations"][0]["accuracy"] = json::array({one});
  const std::string html3 = RenderReportHtml(report);
  EXPECT_EQ(Count(html3, "data-kind=\"accuracy-now\""), 1u);
  EXPECT_EQ(Count(html3, "data-kind=\"accuracy\""), 0u);
  // Two points make a line.
  one["series"].push_back({{"t", FormatUtc(testing::kReportTo - 3600)}, {"rmse", 4}});
  report["stations"][0]["accuracy"] = json::array({one});
  const std::string html4 = RenderReportHtml(report);
  EXPECT_EQ(Count(html4, "data-kind=\"accuracy-now\""), 0u);
  EXPECT_EQ(Count(html4, "data-kind=\"accuracy\""), 1u);
  // Nothing to chart at all: no svg.
  report["stations"][0]["drift"] = json::array({DriftEntry("pm25", 0.01, "insufficient")});
  report["stations"][0]["accuracy"] = json::array();
  EXPECT_EQ(RenderReportHtml(report).find("<svg"), std::string::npos);
}

TEST(HtmlReport, MalformedInputRendersWithoutThrowing) {
  for (const json& report :
       {json(nullptr), json::array({1, 2}), json("text"), json::object(),
        json{{"stations", "nope"}, {"network", 3}, {"window", {{"from", 5}, {"to", "x"}}}},
        json{{"stations", {{{"id", 5}, {"alarms", {{{"start", "not a time"}, {"end", 7}}}},
                            {"accuracy", {{{"rmse", "x"}, {"series", {{{"t", 3}, {"rmse", "y"}}}}}}},
                            {"drift", {nullptr, 4, {{"series", 2}}}}}}}}}) {
    std::string html;
    ASSERT_NO_THROW(html = RenderReportHtml(report)) << report.dump();
    EXPECT_NE(html.find("</html>"), std::string::npos) << report.dump();
  }
  EXPECT_NE(RenderReportHtml(json::array()).find("not a monitoring report"), std::string::npos);
  EXPECT_NE(RenderReportHtml(json::object()).find("No station in this report."), std::string::npos);
}

TEST(HtmlReport, TimelineIsBoundedAndTheTableKeepsEveryAlarm) {
  json report = SampleReport();
  json alarms = json::array();
  for (int i = 0; i < 55; ++i) {
    alarms.push_back({{"kind", "accuracy_degraded"},
                      {"reason", "r" + std::to_string(i)},
                      {"start", FormatUtc(testing::kReportFrom + i * 60)},
                      {"end", FormatUtc(testing::kReportFrom + i * 60 + 600)},
                      {"figures", json::object()}});
  }
  report["stations"] = {{{"id", "s"}, {"alarms", alarms}}};
  report.erase("network");
  const std::string html = RenderReportHtml(report);
  EXPECT_EQ(Count(html, "<rect class=\"alarm-bar"), 40u);
  EXPECT_NE(html.find("15 more alarms are in the table below."), std::string::npos);
  EXPECT_EQ(Count(html, "<td>accuracy_degraded</td>"), 55u);
}

TEST(HtmlReport, OpenAlarmsComeFirstAndReachTheWindowEnd) {
  const std::string html = RenderReportHtml(SampleReport());
  const size_t open = html.find("<tr class=\"open\"><td>drift_sensor_fault</td>");
  const size_t closed = html.find("<tr><td>accuracy_degraded</td>");
  ASSERT_NE(open, std::string::npos);
  ASSERT_NE(closed, std::string::npos);
  EXPECT_LT(open, closed);
  // Station timeline: label column 200 px, plot to 546; the open alarm
  // starts 6 h into the 24 h window and runs to its end.
  const double left = 200, width = 546 - left;
  char expected[96];
  std::snprintf(expected, sizeof expected, "<rect class=\"alarm-bar open\" x=\"%.1f\"",
                left + width * 6 / 24);
  EXPECT_NE(html.find(expected), std::string::npos) << expected;
  std::snprintf(expected, sizeof expected, "width=\"%.1f\"", width * 18 / 24);
  EXPECT_NE(html.find(expected), std::string::npos) << expected;
}

}  // namespace
}  // namespace sentinelle::collector
