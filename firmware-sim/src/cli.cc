#include "sentinelle/sim/cli.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "line_sink.h"
#include "sentinelle/version.h"

namespace sentinelle::sim {

namespace {

constexpr const char* kUsage = R"(sentinelle-sim: simulated air-quality stations for Sentinelle.

Usage:
  sentinelle-sim generate [options]   write a history CSV (5-minute rows)
  sentinelle-sim live [options]       feed one agent with sensor lines
  sentinelle-sim replay [options]     map a real CSV onto the schema; feed or convert it
  sentinelle-sim stations [options]   print the network's stations, one JSON object per
                                      line (the body of POST /api/v1/stations)
  sentinelle-sim --help | --version

Network and time (generate, live; stations takes --stations and --scenario):
  --stations N         default network of N Abidjan stations (default 5)
  --start TIME         first window start, YYYY-MM-DDTHH:MM:SSZ
                       (generate: 2026-01-01T00:00:00Z; live: now)
  --days D | --hours H duration (generate: 1 day; live: until stopped)
  --seed S             random seed (default 42); same seed, same data
  --scenario FILE      JSON scenario (stations, faults, regimes); flags override it
  --fault SPEC         TYPE,key=value,...  e.g. stuck,station=abj-plateau,vars=pm25,
                       start=2026-01-02T00:00:00Z,end=2026-01-02T06:00:00Z
                       types: dropout stuck spike drift nan garbage clock_jump late
                       duplicate power_loss (repeatable)
  --regime SPEC        KIND,key=value,...  e.g. traffic,station=abj-cocody,
                       at=2026-06-01T00:00:00Z,factor=1.8,peak_shift_h=1.5
                       kinds: traffic industrial_source (repeatable)
  --truth-log FILE     ground-truth log of injected faults (JSON Lines)

generate:
  --out FILE           history CSV (default: stdout)
  --truth-out FILE     the healthy series (before faults), same schema
  --interval-s S       row resolution (default 300)
  --sample-s S         step at this sensor rate and write window means
                       (default: step directly at the interval)

live:
  --station ID         which station to simulate (default: the first)
  --to TARGET          stdout (default), tcp:[127.0.0.1:]PORT or unix:PATH
  --speed N            simulated seconds per real second (default 1; 0 = unpaced)
  --sample-s S         sensor sample period (default 10)
  --tick-s S           clock tick period (default 30; 0 = none)
  --connect-timeout-s S  wait for the agent to listen (default 10)

replay:
  --input FILE         the foreign CSV
  --map FILE           column-mapping JSON (names, units, time format)
  --out FILE           write it as a history CSV
  --to TARGET          and/or feed it to an agent (as live)
  --station ID         the station to feed when the file holds several
  --speed N            as live (default 0 = unpaced)
  --sample-s S         samples per source interval repeat its value (default 60)
  --tick-s S           clock tick period (default 30)

Exit codes: 0 done, 1 runtime failure, 2 bad arguments.
)";

struct Parser {
  const std::vector<std::string>& args;
  size_t i = 1;
  std::string error;

  bool Value(const std::string& flag, std::string* out) {
    if (i + 1 >= args.size()) {
      error = "option '" + flag + "' needs a value";
      return false;
    }
    *out = args[++i];
    return true;
  }
};

bool ToDouble(const std::string& s, double* out) {
  const char* b = s.data();
  auto [p, ec] = std::from_chars(b, b + s.size(), *out);
  return ec == std::errc() && p == b + s.size() && std::isfinite(*out);
}
bool ToInt(const std::string& s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

}  // namespace

std::string Usage() { return kUsage; }

Result<CliOptions> ParseCli(const std::vector<std::string>& args) {
  CliOptions o;
  if (args.empty()) {
    return MakeError("missing command (generate, live, replay or stations); see --help");
  }
  const std::string& cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") return o;
  if (cmd == "--version") {
    o.command = Command::kVersion;
    return o;
  }
  if (cmd == "generate") o.command = Command::kGenerate;
  else if (cmd == "live") o.command = Command::kLive;
  else if (cmd == "replay") o.command = Command::kReplay;
  else if (cmd == "stations") o.command = Command::kStations;
  else return MakeError("unknown command '" + cmd + "' (generate, live, replay or stations); see --help");

  // Values are collected first: the scenario file loads before flags override it.
  std::optional<std::string> scenario_file, start, days, hours, stations, seed;
  std::vector<std::string> faults, regimes;
  bool live = o.command == Command::kLive, replay = o.command == Command::kReplay,
       gen = o.command == Command::kGenerate, list = o.command == Command::kStations;
  o.replay.speed = 0;
  Parser p{args};
  auto number = [&](const std::string& flag, const std::string& v, double lo, double hi,
                    double* out) -> bool {
    if (!ToDouble(v, out)) {
      p.error = flag + " '" + v + "': not a number";
      return false;
    }
    if (*out < lo || *out > hi) {
      p.error = flag + " '" + v + "': must be within [" + Shortest(lo) + ", " + Shortest(hi) + "]";
      return false;
    }
    return true;
  };
  auto integer = [&](const std::string& flag, const std::string& v, int64_t lo, int64_t hi,
                     int64_t* out) -> bool {
    if (!ToInt(v, out)) {
      p.error = flag + " '" + v + "': not an integer";
      return false;
    }
    if (*out < lo || *out > hi) {
      p.error = flag + " '" + v + "': must be within [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]";
      return false;
    }
    return true;
  };

  for (p.i = 1; p.i < args.size(); ++p.i) {
    std::string flag = args[p.i];
    std::string v;
    // --flag=value is accepted too.
    const size_t eq = flag.find('=');
    std::optional<std::string> inline_value;
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    auto value = [&]() -> bool {
      if (inline_value) {
        v = *inline_value;
        return true;
      }
      return p.Value(flag, &v);
    };
    double d = 0;
    int64_t n = 0;
    bool ok = true;
    const bool scen = gen || live, network = scen || list;
    if (flag == "--help" || flag == "-h") {
      o.command = Command::kHelp;
      return o;
    } else if (network && flag == "--scenario") {
      ok = value() && (scenario_file = v, true);
    } else if (scen && flag == "--start") {
      ok = value() && (start = v, true);
    } else if (scen && flag == "--days") {
      ok = value() && (days = v, true);
    } else if (scen && flag == "--hours") {
      ok = value() && (hours = v, true);
    } else if (network && flag == "--stations") {
      ok = value() && (stations = v, true);
    } else if (scen && flag == "--seed") {
      ok = value() && (seed = v, true);
    } else if (scen && flag == "--fault") {
      ok = value() && (faults.push_back(v), true);
    } else if (scen && flag == "--regime") {
      ok = value() && (regimes.push_back(v), true);
    } else if (scen && flag == "--truth-log") {
      ok = value() && ((gen ? o.generate.truth_log : o.live.truth_log) = v, true);
    } else if (gen && flag == "--out") {
      ok = value() && (o.generate.out_path = v, true);
    } else if (gen && flag == "--truth-out") {
      ok = value() && (o.generate.truth_out = v, true);
    } else if (gen && flag == "--interval-s") {
      ok = value() && integer(flag, v, 1, 86400, &n) && (o.scenario.interval_s = static_cast<int>(n), true);
    } else if (flag == "--sample-s") {
      ok = value() && integer(flag, v, gen ? 0 : 1, 86400, &n);
      if (ok) (gen ? o.generate.sample_s : live ? o.live.sample_s : o.replay.sample_s) = static_cast<int>(n);
    } else if ((live || replay) && flag == "--station") {
      ok = value() && ((live ? o.live.station : o.replay.station) = v, true);
    } else if ((live || replay) && flag == "--to") {
      ok = value() && ((live ? o.live.target : o.replay.target) = v, true);
    } else if ((live || replay) && flag == "--speed") {
      ok = value() && number(flag, v, 0, 1e9, &d) && ((live ? o.live.speed : o.replay.speed) = d, true);
    } else if ((live || replay) && flag == "--tick-s") {
      ok = value() && integer(flag, v, 0, 86400, &n) &&
           ((live ? o.live.tick_s : o.replay.tick_s) = static_cast<int>(n), true);
    } else if ((live || replay) && flag == "--connect-timeout-s") {
      ok = value() && number(flag, v, 0, 3600, &d) &&
           ((live ? o.live.connect_timeout_s : o.replay.connect_timeout_s) = d, true);
    } else if (replay && flag == "--input") {
      ok = value() && (o.replay.input = v, true);
    } else if (replay && flag == "--map") {
      ok = value() && (o.replay.map = v, true);
    } else if (replay && flag == "--out") {
      ok = value() && (o.replay.out = v, true);
    } else {
      return MakeError("unknown option '" + flag + "' for " + cmd + "; see --help");
    }
    if (!ok) return MakeError(p.error);
  }

  // A malformed --to is a usage error, found before anything runs.
  for (const std::string* target : {&o.live.target, &o.replay.target}) {
    if ((live || replay) && !target->empty()) {
      auto sink = MakeLineSink(*target);
      if (!sink) return sink.error();
    }
  }
  if (replay) return o;

  Scenario& sc = o.scenario;
  sc.stations = DefaultNetwork(5);
  if (live) {
    // Live runs start now (to the second) and go on until stopped.
    sc.start_s = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    sc.duration_s = 0;
  }
  if (scenario_file) {
    Status s = LoadScenarioFile(*scenario_file, &sc);
    if (!s.ok()) return MakeError("--scenario: " + s.message());
  }
  if (start) {
    auto t = ParseUtc(*start);
    if (!t) return MakeError("--start '" + *start + "': expected YYYY-MM-DDTHH:MM:SSZ");
    sc.start_s = *t;
  }
  if (days && hours) return MakeError("--days and --hours: give only one");
  double d = 0;
  if (days) {
    if (!number("--days", *days, 0.0001, 36600, &d)) return MakeError(p.error);
    sc.duration_s = static_cast<int64_t>(std::llround(d * 86400));
  }
  if (hours) {
    if (!number("--hours", *hours, 0.001, 878400, &d)) return MakeError(p.error);
    sc.duration_s = static_cast<int64_t>(std::llround(d * 3600));
  }
  if (stations) {
    int64_t n = 0;
    if (!integer("--stations", *stations, 1, 10000, &n)) return MakeError(p.error);
    sc.stations = DefaultNetwork(static_cast<int>(n));
  }
  if (seed) {
    int64_t n = 0;
    if (!integer("--seed", *seed, 0, INT64_MAX, &n)) return MakeError(p.error);
    sc.seed = static_cast<uint64_t>(n);
  }
  for (const std::string& f : faults) {
    auto spec = ParseFaultFlag(f, sc.start_s);
    if (!spec) return spec.error();
    sc.faults.push_back(*spec);
  }
  for (const std::string& r : regimes) {
    auto spec = ParseRegimeFlag(r, sc.start_s);
    if (!spec) return spec.error();
    sc.regimes.push_back(*spec);
  }
  Status valid = ValidateScenario(sc);
  if (!valid.ok()) return valid.error();
  return o;
}

std::string StationsJsonLines(const Scenario& scenario) {
  std::string out;
  for (const StationSpec& st : scenario.stations) {
    const nlohmann::ordered_json j = {{"id", st.id},
                                      {"name", st.name.empty() ? st.id : st.name},
                                      {"latitude", st.lat},
                                      {"longitude", st.lon},
                                      {"type", std::string(StationTypeName(st.type))}};
    out += j.dump() + "\n";
  }
  return out;
}

int RunCli(const std::vector<std::string>& args, std::FILE* err, const std::atomic<bool>* stop) {
  auto parsed = ParseCli(args);
  if (!parsed) {
    std::fprintf(err, "sentinelle-sim: %s\n", parsed.message().c_str());
    return 2;
  }
  CliOptions& o = *parsed;
  switch (o.command) {
    case Command::kHelp:
      std::fputs(kUsage, stdout);
      return 0;
    case Command::kVersion:
      std::printf("sentinelle-sim %s\n", kVersion);
      return 0;
    case Command::kStations:
      std::fputs(StationsJsonLines(o.scenario).c_str(), stdout);
      return std::fflush(stdout) == 0 ? 0 : 1;
    case Command::kGenerate: {
      auto stats = Generate(o.scenario, o.generate);
      if (!stats) {
        std::fprintf(err, "sentinelle-sim: %s\n", stats.message().c_str());
        return 1;
      }
      std::fprintf(err, "sentinelle-sim: wrote %lld rows (%lld garbage lines, %lld truth-log lines)\n",
                   static_cast<long long>(stats->rows), static_cast<long long>(stats->garbage_lines),
                   static_cast<long long>(stats->truth_log_lines));
      return 0;
    }
    case Command::kLive: {
      o.live.stop = stop;
      auto stats = RunLive(o.scenario, o.live);
      if (!stats) {
        std::fprintf(err, "sentinelle-sim: %s\n", stats.message().c_str());
        return 1;
      }
      std::fprintf(err, "sentinelle-sim: sent %lld lines, dropped %lld, reconnected %lld times\n",
                   static_cast<long long>(stats->lines), static_cast<long long>(stats->dropped_lines),
                   static_cast<long long>(stats->reconnects));
      return 0;
    }
    case Command::kReplay: {
      o.replay.stop = stop;
      auto stats = RunReplay(o.replay);
      if (!stats) {
        std::fprintf(err, "sentinelle-sim: %s\n", stats.message().c_str());
        return 1;
      }
      std::fprintf(err, "sentinelle-sim: replayed %lld rows, sent %lld lines, dropped %lld\n",
                   static_cast<long long>(stats->rows), static_cast<long long>(stats->lines),
                   static_cast<long long>(stats->dropped_lines));
      return 0;
    }
  }
  return 2;
}

}  // namespace sentinelle::sim
