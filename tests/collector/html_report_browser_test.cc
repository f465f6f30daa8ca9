// The report's HTML page rendered by a real browser (headless Chromium,
// installed by scripts/setup.sh): the charts are laid out as SVG with real
// geometry, and the page loads nothing from anywhere (no network: DNS is
// mapped to nowhere, and the page's own Content-Security-Policy forbids any
// fetch). A probe script is put in front of the page in a copy used only by
// this test (the report itself has no script); it runs before the CSP meta
// takes effect and writes what the browser laid out into the DOM, which
// --dump-dom prints.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "process.h"
#include "report_sample.h"
#include "sentinelle/collector/html_report.h"

namespace sentinelle::collector {
namespace {

using nlohmann::json;
using testing::ChildProcess;
using testing::TempDir;

const char* kChromium = "/usr/bin/chromium";

// For every svg.chart: its kind, its laid-out size, and per series path the
// length and bounding box the browser computed; alarm bars' widths; how many
// resources the page requested; whether the page's own scripts could run.
constexpr const char* kProbe = R"js(<script>
document.addEventListener('DOMContentLoaded', () => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {
      kind: svg.dataset.kind,
      namespace: svg.namespaceURI,
      width: box.width, height: box.height,
      series: [...svg.querySelectorAll('path.series')].map(p => {
        const b = p.getBBox();
        return {length: p.getTotalLength(), w: b.width, h: b.height};
      }),
      bars: [...svg.querySelectorAll('rect.alarm-bar')].map(r => r.getBBox().width),
      value_bars: [...svg.querySelectorAll('rect.bar')].map(r => r.getBBox().width),
      references: svg.querySelectorAll('line.reference').length,
    };
  });
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    charts,
    resources: performance.getEntriesByType('resource').length,
    tables: document.querySelectorAll('table').length,
    title: document.title,
  });
  document.body.appendChild(out);
});
</script>)js";

struct Rendered {
  json probe;
  std::string dom;
  std::string log;
};

Rendered RenderInChromium(const std::string& html, const TempDir& dir) {
  // Probe first, then the page unchanged.
  std::ofstream(dir.File("report.html")) << kProbe << html;
  ChildProcess chromium({kChromium, "--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                         "--log-level=3",
                         "--host-resolver-rules=MAP * ~NOTFOUND",
                         "--user-data-dir=" + dir.File("profile"), "--dump-dom",
                         "file://" + dir.File("report.html")},
                        dir.File("chromium.out"));
  Rendered r;
  if (!chromium.Start()) return r;
  const int code = chromium.Wait(std::chrono::seconds(90));
  if (code < 0) chromium.Kill();
  r.log = chromium.Log();
  r.dom = r.log;  // stdout (the DOM) and stderr (Chromium's own noise) share the file
  static const std::regex re(R"re(<pre id="probe">([^<]*)</pre>)re");
  std::smatch m;
  if (std::regex_search(r.dom, m, re)) {
    std::string text = m[1].str();
    // textContent is HTML-escaped in the dump; JSON.stringify output only
    // needs these two back.
    for (const auto& [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""},
                                   {"&amp;", "&"}}) {
      for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
        text.replace(at, from.size(), to);
      }
    }
    r.probe = json::parse(text, nullptr, false);
  }
  return r;
}

TEST(HtmlReportBrowser, ChromiumLaysOutEveryChart) {
  ASSERT_EQ(access(kChromium, X_OK), 0)
      << "chromium is required (scripts/setup.sh installs the Debian package chromium)";
  TempDir dir;
  const Rendered r = RenderInChromium(RenderReportHtml(testing::SampleReport()), dir);
  ASSERT_TRUE(r.probe.is_object()) << r.log;
  EXPECT_EQ(r.probe["resources"], 0) << "the page requested something";
  EXPECT_EQ(r.probe["title"], "Sentinelle monitoring report \xC2\xB7 network");
  EXPECT_GE(r.probe["tables"].get<int>(), 1 + 2 + 2 + 1 + 2);
  std::map<std::string, int> kinds;
  for (const json& c : r.probe["charts"]) {
    const std::string kind = c["kind"];
    ++kinds[kind];
    EXPECT_EQ(c["namespace"], "http://www.w3.org/2000/svg") << c.dump();
    EXPECT_GT(c["width"].get<double>(), 100) << c.dump();
    EXPECT_GT(c["height"].get<double>(), 50) << c.dump();
    if (kind == "alarms") {
      EXPECT_FALSE(c["bars"].empty()) << c.dump();
      for (const json& w : c["bars"]) EXPECT_GE(w.get<double>(), 2) << c.dump();
      continue;
    }
    if (kind == "drift-profile" || kind == "accuracy-now") {
      // Current figures as bars, laid out with a width (the PSI scale
      // includes the 0.25 line, so small PSIs give short bars).
      ASSERT_FALSE(c["value_bars"].empty()) << c.dump();
      double widest = 0;
      for (const json& w : c["value_bars"]) widest = std::max(widest, w.get<double>());
      EXPECT_GT(widest, kind == "accuracy-now" ? 200 : 10) << c.dump();
      EXPECT_GE(c["references"].get<int>(), kind == "drift-profile" ? 2 : 0) << c.dump();
      continue;
    }
    // A data path the browser measured: it spans the plot area's width
    // (the series cover the whole window) and has a length.
    ASSERT_EQ(c["series"].size(), 1u) << c.dump();
    const json& s = c["series"][0];
    EXPECT_GT(s["length"].get<double>(), 400) << c.dump();
    EXPECT_NEAR(s["w"].get<double>(), 490, 1) << c.dump();
    EXPECT_GT(s["h"].get<double>(), 10) << c.dump();
    EXPECT_GE(c["references"].get<int>(), 1) << c.dump();
  }
  EXPECT_EQ(kinds["accuracy"], 4) << r.probe.dump();
  EXPECT_EQ(kinds["drift"], 1) << r.probe.dump();
  EXPECT_EQ(kinds["alarms"], 2) << r.probe.dump();
  EXPECT_EQ(kinds["drift-profile"], 2) << r.probe.dump();
}

TEST(HtmlReportBrowser, HostileNamesStayText) {
  ASSERT_EQ(access(kChromium, X_OK), 0) << "chromium is required (scripts/setup.sh)";
  json report = testing::SampleReport();
  const std::string evil = "<img src=x onerror=\"document.title='owned'\"><script>document.title='owned'</script>";
  report["stations"][1]["id"] = evil;
  report["stations"][1]["drift"][0]["feature"] = evil;
  report["stations"][1]["alarms"][0]["reason"] = evil;
  TempDir dir;
  const Rendered r = RenderInChromium(RenderReportHtml(report), dir);
  ASSERT_TRUE(r.probe.is_object()) << r.log;
  EXPECT_EQ(r.probe["title"], "Sentinelle monitoring report \xC2\xB7 network");
  EXPECT_EQ(r.probe["resources"], 0);
  // The browser parsed no element out of the names: no img, and the only
  // script is the probe.
  EXPECT_EQ(r.dom.find("<img"), std::string::npos);
  EXPECT_EQ(r.probe["charts"].size(), 9u);
}

TEST(HtmlReportBrowser, ProbeSeesAMissingChart) {
  // The check above can fail: a report without series has no data path.
  ASSERT_EQ(access(kChromium, X_OK), 0) << "chromium is required (scripts/setup.sh)";
  json report = testing::SampleReport();
  for (json& s : report["stations"]) {
    for (json& e : s["accuracy"]) e.erase("series");
  }
  TempDir dir;
  const Rendered r = RenderInChromium(RenderReportHtml(report), dir);
  ASSERT_TRUE(r.probe.is_object()) << r.log;
  int accuracy = 0;
  for (const json& c : r.probe["charts"]) accuracy += c["kind"] == "accuracy";
  EXPECT_EQ(accuracy, 1);  // the network's only
}

TEST(HtmlReportBrowser, ShortRunHasChartsOfTheCurrentFigures) {
  // One evaluation pass: a single series point per key, every feature ok.
  ASSERT_EQ(access(kChromium, X_OK), 0) << "chromium is required (scripts/setup.sh)";
  json report = testing::SampleReport();
  for (json& s : report["stations"]) {
    for (json& e : s["accuracy"]) e["series"] = json::array({e["series"].back()});
    for (json& e : s["drift"]) {
      if (e["status"] == "drift") e["status"] = "ok";
      e["series"] = json::array({e["series"].back()});
    }
  }
  for (json& e : report["network"]["accuracy"]) e["series"] = json::array({e["series"].back()});
  TempDir dir;
  const Rendered r = RenderInChromium(RenderReportHtml(report), dir);
  ASSERT_TRUE(r.probe.is_object()) << r.log;
  std::map<std::string, int> kinds;
  for (const json& c : r.probe["charts"]) {
    ++kinds[c["kind"].get<std::string>()];
    if (c["kind"] == "drift-profile" || c["kind"] == "accuracy-now") {
      EXPECT_FALSE(c["value_bars"].empty()) << c.dump();
      EXPECT_GT(c["width"].get<double>(), 100) << c.dump();
    }
  }
  // Per station: its PSI profile and its current RMSE; the network's RMSE.
  EXPECT_EQ(kinds["drift-profile"], 2) << r.probe.dump();
  EXPECT_EQ(kinds["accuracy-now"], 3) << r.probe.dump();
  EXPECT_EQ(kinds["accuracy"], 0) << r.probe.dump();
}

}  // namespace
}  // namespace sentinelle::collector
