// The Grafana dashboards against real data: a real Prometheus (the Debian
// `prometheus` binary, loopback, temporary storage, 1 s scrapes, the
// project's alert rules loaded) scrapes a running collector (a trained,
// promoted and announced pm25/60 network model: tests/collector/model_fixture.h)
// and the real sentinelle-agent binary, which the simulator feeds at 4000x
// with a spike fault on no2 (so QC panels have something to show). The agent
// installs the model through its updater and predicts with it. The
// collector's monitor joins the predictions with the readings and computes
// drift against the model's reference histograms.
//
// Every query of every panel of every dashboard in configs/grafana/dashboards
// is sent to /api/v1/query with the template variables substituted (their
// own queries are evaluated first and must offer the running station) and
// must return data. The exceptions, with the reason, are in kNeedsEvents:
// they must still be valid queries (no error from Prometheus).
#include <gtest/gtest.h>

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "broker.h"
#include "model_fixture.h"
#include "process.h"
#include "secure_broker.h"
#include "sentinelle/reading.h"

namespace sentinelle::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kStation = "abj-plateau";
const std::string kTarget = "pm25";  // the fixture's network model
const std::string kHorizon = "60";

// Panels (dashboard uid, panel title, refId) whose data needs something this
// run cannot produce in a minute or two. Each must still be a valid query.
struct Exception {
  const char* dashboard;
  const char* panel;
  const char* ref;
  const char* reason;
};
constexpr Exception kNeedsEvents[] = {
    {"sentinelle-station", "Predicted for now vs measured ($target, +$horizon min)", "B",
     "shifted by the horizon (60 min of wall-clock history); the same query without the "
     "offset must return data"},
    {"sentinelle-drift", "Stations with open alarms", "A",
     "series exist only for stations with an open alarm (three bad evaluations)"},
};

const Exception* FindException(const std::string& dashboard, const std::string& panel,
                               const std::string& ref) {
  for (const Exception& e : kNeedsEvents) {
    if (dashboard == e.dashboard && panel == e.panel && ref == e.ref) return &e;
  }
  return nullptr;
}

struct Query {
  std::string dashboard, panel, ref, expr;
};

// Every (panel, target) of a dashboard, rows' nested panels included.
void CollectQueries(const json& dashboard, const json& panels, std::vector<Query>* out) {
  for (const json& p : panels) {
    if (p.contains("panels")) CollectQueries(dashboard, p["panels"], out);
    if (!p.contains("targets")) continue;
    for (const json& t : p["targets"]) {
      out->push_back({dashboard["uid"], p["title"], t.value("refId", ""), t.value("expr", "")});
    }
  }
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

// Grafana's interpolation for what the dashboards use.
std::string Substitute(std::string expr, const std::map<std::string, std::string>& vars) {
  ReplaceAll(expr, "$__rate_interval", "10s");
  ReplaceAll(expr, "$__interval", "2s");
  for (const auto& [name, value] : vars) {
    ReplaceAll(expr, "${" + name + "}", value);
    ReplaceAll(expr, "$" + name, value);
  }
  return expr;
}

class Prometheus {
 public:
  bool Start(const std::string& config) {
    port_ = FreeLoopbackPort();
    std::ofstream(dir_.File("prometheus.yml")) << config;
    proc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/prometheus",
                                 "--config.file=" + dir_.File("prometheus.yml"),
                                 "--storage.tsdb.path=" + dir_.File("data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--log.level=warn"},
        dir_.File("prometheus.log"));
    return proc_->Start() && WaitFor([&] { return PortOpen(port_); }, std::chrono::seconds(30));
  }
  // GET /api/v1/{path} with urlencoded parameters, parsed (null on failure).
  json Get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-G", "-o", dir_.File("out.json")};
    for (const auto& [k, v] : params) {
      argv.push_back("--data-urlencode");
      argv.push_back(k + "=" + v);
    }
    argv.push_back("http://127.0.0.1:" + std::to_string(port_) + "/api/v1/" + path);
    ChildProcess curl(argv, dir_.File("curl.log"));
    if (!curl.Start() || curl.Wait(std::chrono::seconds(20)) != 0) return nullptr;
    return json::parse(ReadFile(dir_.File("out.json")), nullptr, false);
  }
  json Query(const std::string& expr) { return Get("query", {{"query", expr}}); }
  std::string Log() const { return proc_ ? proc_->Log() : ""; }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
};

bool HasData(const json& r) {
  if (!r.is_object() || r.value("status", "") != "success") return false;
  const json& d = r["data"];
  if (d["resultType"] == "scalar") return true;
  return d["result"].is_array() && !d["result"].empty();
}

std::vector<json> Dashboards() {
  std::vector<json> out;
  for (const auto& e : fs::directory_iterator(RepoPath("configs/grafana/dashboards"))) {
    if (e.path().extension() != ".json") continue;
    out.push_back(json::parse(ReadFile(e.path().string())));
  }
  return out;
}

TEST(DashboardsE2E, EveryPanelQueryReturnsData) {
  ASSERT_EQ(access("/usr/bin/prometheus", X_OK), 0)
      << "the Debian package prometheus is required (scripts/setup.sh installs it)";
  MosquittoBroker broker;
  ASSERT_TRUE(broker.Start());
  ServedModelOptions so;
  so.broker_uri = broker.uri();
  // The monitor evaluates hourly and looks for new production models every
  // 5 minutes; here every few seconds, so its series exist within the run.
  so.configure = [](collector::CollectorConfig& c) {
    c.monitoring.evaluate_interval_s = 5;
    c.monitoring.reference_refresh_s = 2;
  };
  std::string error;
  auto served = ServedModel::Start(so, &error);
  ASSERT_TRUE(served) << error;

  // The agent: the sensor input from the simulator, the model from the
  // collector's announcement, /metrics for Prometheus.
  TempDir dir;
  const int input_port = FreeLoopbackPort(), metrics_port = FreeLoopbackPort();
  const json agent_config = {
      {"station_id", kStation},
      {"clock", {{"source", "input"}}},
      {"input", {{"kind", "tcp"}, {"tcp_port", input_port}}},
      {"store", {{"path", dir.File("agent.db")}, {"synchronous", "NORMAL"}}},
      {"mqtt", {{"uri", broker.uri()}, {"status_interval_s", 1}, {"reconnect_min_ms", 100},
                {"reconnect_max_ms", 500}}},
      {"metrics", {{"listen", "127.0.0.1:" + std::to_string(metrics_port)}}},
      // The fixture's model is trained on January's history and the station
      // runs in the days up to now: without this the chain skips it as stale
      // (older than 30 days) and only fallbacks answer.
      {"prediction", {{"model_dir", dir.File("models")}, {"reload_interval_ms", 0},
                      {"max_model_age_s", 0}}},
      {"updater", {{"public_key_file", served->public_key_path},
                   {"model_dir", dir.File("models")},
                   {"download_token", kFixtureViewerToken},
                   {"download_attempts", 1}}}};
  fs::create_directories(dir.File("models"));
  std::ofstream(dir.File("agent.json")) << agent_config.dump(2);
  ChildProcess agent({BinPath("sentinelle-agent"), "--config", dir.File("agent.json")},
                     dir.File("agent.log"));
  ASSERT_TRUE(agent.Start());
  ASSERT_TRUE(WaitFor([&] { return PortOpen(input_port); }, std::chrono::seconds(30)))
      << agent.Log();
  // Wait for the model before feeding, so predictions come from it.
  ASSERT_TRUE(WaitFor([&] { return fs::exists(dir.File("models/pm25_60_network.json")); },
                      std::chrono::seconds(60)))
      << agent.Log();

  // The monitor's windows (drift: 14 days, accuracy: 24 h) end at the wall
  // clock, so the simulated station runs the last three days up to now:
  // 72 simulated hours at 4000x take about a minute.
  const int64_t now_s = std::time(nullptr);
  const int64_t start_s = now_s - now_s % 300 - 3 * 86400;
  const std::string start = FormatUtc(start_s), end = FormatUtc(start_s + 4 * 86400);
  ChildProcess sim({BinPath("sentinelle-sim"), "live", "--station", kStation, "--to",
                    "tcp:127.0.0.1:" + std::to_string(input_port), "--speed", "4000", "--start",
                    start, "--hours", "72", "--seed", "42", "--fault",
                    "spike,station=" + kStation + ",vars=no2,probability=0.05,start=" + start +
                        ",end=" + end},
                   dir.File("sim.log"));
  ASSERT_TRUE(sim.Start());

  // Prometheus as configs/prometheus/prometheus.yml sets it up (job names,
  // the station label on agents, the rule files), on loopback and fast.
  std::string rules;
  for (const auto& e : fs::directory_iterator(RepoPath("configs/prometheus/rules"))) {
    const std::string f = e.path().string();
    if (f.ends_with(".rules.yml")) rules += "  - " + f + "\n";
  }
  Prometheus prometheus;
  ASSERT_TRUE(prometheus.Start(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      "rule_files:\n" + rules +
      "scrape_configs:\n"
      "  - job_name: collector\n    static_configs:\n      - targets: [\"127.0.0.1:" +
      std::to_string(served->http_port()) + "\"]\n"
      "  - job_name: agents\n    static_configs:\n      - targets: [\"127.0.0.1:" +
      std::to_string(metrics_port) + "\"]\n        labels: {station: " + kStation + "}\n"))
      << prometheus.Log();

  std::vector<Query> queries;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> variables;
  const auto dashboards = Dashboards();
  ASSERT_GE(dashboards.size(), 4u);
  for (const json& d : dashboards) {
    CollectQueries(d, d["panels"], &queries);
    for (const json& v : d["templating"]["list"]) {
      variables[d["uid"]].push_back({v["name"], v["definition"]});
    }
  }
  ASSERT_GT(queries.size(), 40u);

  // Template variables: label_values(selector, label) as Grafana runs it,
  // after earlier variables are substituted; the test picks the station it
  // runs and the fixture's model among the offered values.
  const std::map<std::string, std::string> wanted = {
      {"station", kStation}, {"target", kTarget}, {"horizon", kHorizon}};
  auto resolve = [&](const std::string& uid, std::string* why) {
    std::map<std::string, std::string> values;
    static const std::regex lv(R"(^label_values\((.*),\s*(\w+)\)$)");
    for (const auto& [name, definition] : variables[uid]) {
      std::smatch m;
      const std::string def = Substitute(definition, values);
      if (!std::regex_match(def, m, lv)) {
        *why = name + ": unsupported variable query " + def;
        return values;
      }
      const json r = prometheus.Get("label/" + m[2].str() + "/values", {{"match[]", m[1].str()}});
      std::set<std::string> offered;
      if (r.is_object() && r["data"].is_array()) {
        for (const json& x : r["data"]) offered.insert(x.get<std::string>());
      }
      const auto w = wanted.find(name);
      if (w == wanted.end()) {
        *why = "the test chooses no value for variable " + name;
        return values;
      }
      if (!offered.count(w->second)) {
        *why = "variable " + name + " (" + def + ") does not offer " + w->second + ": " +
               (r.is_null() ? "no answer" : r.dump());
      }
      values[name] = w->second;
    }
    return values;
  };

  // Poll until every query has data (or the time is up), then report.
  std::map<std::string, std::string> failures;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  do {
    failures.clear();
    for (const Query& q : queries) {
      std::string why;
      const auto vars = resolve(q.dashboard, &why);
      const std::string key = q.dashboard + " / " + q.panel + " / " + q.ref;
      if (!why.empty()) {
        failures[key] = why;
        continue;
      }
      const std::string expr = Substitute(q.expr, vars);
      const json r = prometheus.Query(expr);
      if (!r.is_object() || r.value("status", "") != "success") {
        failures[key] = "query error: " + expr + " -> " + (r.is_null() ? "no answer" : r.dump());
        continue;
      }
      if (const Exception* e = FindException(q.dashboard, q.panel, q.ref)) {
        if (std::string(e->panel).starts_with("Predicted for now")) {
          std::string unshifted = expr;
          const size_t at = unshifted.find(" offset ");
          ASSERT_NE(at, std::string::npos) << expr;
          unshifted = unshifted.substr(0, at);
          if (!HasData(prometheus.Query(unshifted))) failures[key] = "no data: " + unshifted;
        }
        continue;
      }
      if (!HasData(r)) failures[key] = "no data: " + expr;
    }
    if (failures.empty()) break;
    std::this_thread::sleep_for(std::chrono::seconds(5));
  } while (std::chrono::steady_clock::now() < deadline);

  std::string report;
  for (const auto& [k, v] : failures) report += "  " + k + ": " + v + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << queries.size()
                                << " panel queries failed:\n"
                                << report << "agent log tail:\n"
                                << agent.Log().substr(agent.Log().size() > 3000 ? agent.Log().size() - 3000 : 0);

  // The alert rules evaluate against the real series without errors.
  const json rules_state = prometheus.Get("rules");
  ASSERT_TRUE(rules_state.is_object()) << prometheus.Log();
  int evaluated = 0;
  for (const json& g : rules_state["data"]["groups"]) {
    for (const json& r : g["rules"]) {
      EXPECT_EQ(r.value("health", ""), "ok") << r.dump();
      ++evaluated;
    }
  }
  EXPECT_GE(evaluated, 20);

  sim.Signal(SIGTERM);
  sim.Wait(std::chrono::seconds(10));
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(std::chrono::seconds(20)), 0) << agent.Log();
}

}  // namespace
}  // namespace sentinelle::testing
