// The monitor's HTTP endpoints, the report renderer choice and the report CLI.

#include <fstream>
#include <iostream>

#include "sentinelle/collector/http_api.h"
#include "sentinelle/collector/monitoring.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/topics.h"

#if __has_include("sentinelle/collector/html_report.h")
#include "sentinelle/collector/html_report.h"
#define SENTINELLE_HAS_HTML_REPORT 1
#endif

namespace sentinelle::collector {

using nlohmann::json;

namespace {

HttpResponse JsonResponse(int status, const json& j) {
  return HttpResponse{status, "application/json", j.dump()};
}

HttpResponse Error(int status, const std::string& message) {
  return JsonResponse(status, json{{"error", message}});
}

}  // namespace

bool MonitoringOwns(const std::vector<std::string>& parts) {
  return parts.size() == 1 && (parts[0] == "alarms" || parts[0] == "accuracy" ||
                               parts[0] == "drift" || parts[0] == "report");
}

HttpResponse HandleMonitoring(Monitor& monitor, const HttpRequest& req,
                              const std::vector<std::string>& parts, int64_t now_s) {
  if (req.method != "GET" && req.method != "HEAD") return Error(405, "use GET");
  const std::optional<std::string> station = QueryVar(req.query, "station");
  if (station && !IsValidStationId(*station)) return Error(400, "invalid station id");
  const std::string& what = parts[0];
  if (what == "alarms") {
    std::optional<bool> active;
    if (auto a = QueryVar(req.query, "active")) {
      if (*a == "true" || *a == "1") active = true;
      else if (*a == "false" || *a == "0") active = false;
      else return Error(400, "active must be true or false");
    }
    int64_t limit = 1000;
    if (auto l = QueryVar(req.query, "limit")) {
      char* end = nullptr;
      const long long v = std::strtoll(l->c_str(), &end, 10);
      if (end == l->c_str() || *end != '\0' || v < 1 || v > 100000) {
        return Error(400, "limit must be 1..100000");
      }
      limit = v;
    }
    auto list = monitor.AlarmsJson(station, active, limit);
    if (!list) return Error(500, "alarms: " + list.message());
    return JsonResponse(200, json{{"alarms", *list}});
  }
  if (what == "accuracy") {
    return JsonResponse(200, json{{"generated", FormatUtc(now_s)},
                                  {"window_h", monitor.config().accuracy_window_h},
                                  {"accuracy", monitor.AccuracyJson(station, now_s)}});
  }
  if (what == "drift") {
    return JsonResponse(200, json{{"drift_window_days", monitor.config().drift_window_days},
                                  {"stations", monitor.DriftJson(station)}});
  }
  // report
  const std::string format = QueryVar(req.query, "format").value_or("json");
  if (format != "json" && format != "html") return Error(400, "format must be json or html");
  auto report = monitor.Report(station, now_s);
  if (!report) {
    const bool unknown = report.message().rfind("unknown station", 0) == 0;
    return Error(unknown ? 404 : 500, report.message());
  }
  auto body = RenderReport(*report, format);
  if (!body) return Error(501, body.message());
  return HttpResponse{200, format == "html" ? "text/html; charset=utf-8" : "application/json",
                      std::move(*body)};
}

Result<std::string> RenderReport(const json& report, const std::string& format) {
  if (format == "json") return report.dump(2);
  if (format == "html") {
#ifdef SENTINELLE_HAS_HTML_REPORT
    return RenderReportHtml(report);
#else
    return MakeError("HTML reports are not available in this build");
#endif
  }
  return MakeError("format must be json or html");
}

int RunReportCommand(const CollectorConfig& config, const std::vector<std::string>& args) {
  std::optional<std::string> station;
  std::string format = "json", out;
  int64_t now_s = Env::Default()->WallMs() / 1000;
  for (size_t i = 1; i < args.size(); ++i) {
    auto value = [&](std::string& dst) {
      if (i + 1 >= args.size()) return false;
      dst = args[++i];
      return true;
    };
    std::string v;
    if (args[i] == "--station" && value(v)) {
      station = v;
    } else if (args[i] == "--format" && value(v)) {
      format = v;
    } else if (args[i] == "--out" && value(v)) {
      out = v;
    } else if (args[i] == "--at" && value(v)) {
      const auto t = ParseUtc(v);
      if (!t) {
        std::cerr << "report: --at takes an ISO-8601 UTC time\n";
        return 2;
      }
      now_s = *t;
    } else {
      std::cerr << "report: unexpected argument " << args[i]
                << "\nusage: report [--station ID] [--format json|html] [--at TIME] --out FILE|-\n";
      return 2;
    }
  }
  if (format != "json" && format != "html") {
    std::cerr << "report: --format must be json or html\n";
    return 2;
  }
  if (out.empty()) {
    std::cerr << "report: --out FILE (or - for stdout) is required\n";
    return 2;
  }
  if (station && !IsValidStationId(*station)) {
    std::cerr << "report: invalid station id\n";
    return 2;
  }
  SqliteStoreOptions so;
  so.path = config.db_path;
  so.synchronous = config.db_synchronous;
  auto store = SqliteHistoryStore::Open(so);
  if (!store) {
    std::cerr << "store " << config.db_path << ": " << store.message() << "\n";
    return 1;
  }
  const ModelsConfig mc = ResolveModelsPaths(config.models, config.db_path);
  auto registry = ModelRegistry::Open(mc.dir);
  if (!registry) {
    std::cerr << "registry " << mc.dir << ": " << registry.message() << "\n";
    return 1;
  }
  MonitorDeps deps;
  deps.store = store->get();
  deps.registry = registry->get();
  auto monitor = Monitor::Open(config.monitoring, config.db_path, deps, /*read_only=*/true);
  if (!monitor) {
    std::cerr << monitor.message() << "\n";
    return 1;
  }
  if (Status st = (*monitor)->RefreshReferences(now_s); !st) {
    std::cerr << "report: " << st.message() << "\n";
  }
  if (Status st = (*monitor)->Rebuild(now_s); !st) {
    std::cerr << "report: " << st.message() << "\n";
    return 1;
  }
  (*monitor)->Evaluate(now_s);
  auto report = (*monitor)->Report(station, now_s);
  if (!report) {
    std::cerr << "report: " << report.message() << "\n";
    return 1;
  }
  auto body = RenderReport(*report, format);
  if (!body) {
    std::cerr << "report: " << body.message() << "\n";
    return 1;
  }
  if (out == "-") {
    std::cout << *body;
    return 0;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << *body;
  f.close();
  if (!f) {
    std::cerr << "report: cannot write " << out << "\n";
    return 1;
  }
  return 0;
}

}  // namespace sentinelle::collector
