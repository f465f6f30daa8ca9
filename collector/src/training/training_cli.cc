#include "sentinelle/collector/training_cli.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "sentinelle/collector/distribution.h"
#include "sentinelle/collector/registry.h"
#include "sentinelle/collector/sqlite_store.h"
#include "sentinelle/collector/training.h"
#include "sentinelle/crypto.h"

namespace sentinelle::collector {

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Options "--name value" and flags "--flag" after the positional arguments.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::string error;
};

Args Parse(const std::vector<std::string>& args, const std::set<std::string>& flags) {
  Args a;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind("--", 0) == 0) {
      const std::string name = args[i].substr(2);
      if (flags.count(name)) {
        a.options[name] = "1";
      } else if (i + 1 < args.size()) {
        a.options[name] = args[++i];
      } else {
        a.error = "option needs a value: ";
        a.error += args[i];
      }
    } else {
      a.positional.push_back(args[i]);
    }
  }
  return a;
}

int Fail(const std::string& what, int code = 1) {
  std::cerr << what << "\n";
  return code;
}

int Train(const CollectorConfig& config, const Args& a) {
  SqliteStoreOptions so;
  so.path = config.db_path;
  auto store = SqliteHistoryStore::Open(so);
  if (!store) return Fail("store " + config.db_path + ": " + store.message());
  const ModelsConfig mc = ResolveModelsPaths(config.models, config.db_path);
  auto registry = ModelRegistry::Open(mc.dir);
  if (!registry) return Fail(registry.message());
  TrainRequest req;
  if (auto it = a.options.find("targets"); it != a.options.end()) {
    for (const std::string& t : SplitList(it->second)) {
      auto v = VariableFromName(t);
      if (!v || !IsPollutant(*v)) return Fail("unknown pollutant " + t, 2);
      req.targets.push_back(*v);
    }
  }
  if (auto it = a.options.find("horizons"); it != a.options.end()) {
    for (const std::string& h : SplitList(it->second)) req.horizons_min.push_back(std::atoi(h.c_str()));
  }
  if (auto it = a.options.find("stations"); it != a.options.end()) req.stations = SplitList(it->second);
  req.station_models = !a.options.count("no-station-models");
  Trainer trainer(config.training, store->get(), Env::Default());
  std::vector<std::string> skipped;
  auto models = trainer.Run(
      req,
      [](const TrainProgress& p) {
        std::cerr << "[" << p.done + 1 << "/" << p.total << "] " << p.step << "\n";
      },
      nullptr, &skipped);
  if (!models) return Fail("training: " + models.message());
  for (const std::string& s : skipped) std::cerr << "skipped " << s << "\n";
  const int64_t now_s = Env::Default()->WallMs() / 1000;
  for (const TrainedModel& m : *models) {
    auto rec = (*registry)->Register(m, TriggerInfo{"cli", "cli", ""}, now_s);
    if (!rec) return Fail("registry: " + rec.message());
    std::printf("v%-6lld %-32s rmse %8.3f  skill %+7.3f  %s\n", static_cast<long long>(rec->version),
                rec->family.Label().c_str(), m.overall.rmse, m.overall.skill,
                m.gate_passed ? "candidate" : "candidate (gate failed)");
  }
  return 0;
}

int Models(const CollectorConfig& config, const Args& a) {
  const ModelsConfig mc = ResolveModelsPaths(config.models, config.db_path);
  auto registry = ModelRegistry::Open(mc.dir);
  if (!registry) return Fail(registry.message());
  ModelRegistry& reg = **registry;
  const std::string sub = a.positional.size() > 1 ? a.positional[1] : "list";
  const int64_t now_s = Env::Default()->WallMs() / 1000;
  const std::string reason = a.options.count("reason") ? a.options.at("reason") : "cli";
  if (sub == "list") {
    ModelFilter f;
    if (a.options.count("stage")) {
      f.stage = StageFromName(a.options.at("stage"));
      if (!f.stage) return Fail("unknown stage", 2);
    }
    if (a.options.count("target")) f.target = a.options.at("target");
    auto list = reg.List(f);
    if (!list) return Fail(list.message());
    for (const ModelRecord& r : *list) {
      const auto& m = r.lineage.value("metrics", nlohmann::json::object());
      std::printf("v%-6lld %-32s %-10s rmse %8.3f  skill %+7.3f  %s\n",
                  static_cast<long long>(r.version), r.family.Label().c_str(),
                  std::string(StageName(r.stage)).c_str(), m.value("rmse", 0.0),
                  m.value("skill", 0.0), FormatUtc(r.created_s).c_str());
    }
    return 0;
  }
  if (sub == "show" && a.positional.size() == 3) {
    auto rec = reg.Get(std::atoll(a.positional[2].c_str()));
    if (!rec || !*rec) return Fail("unknown version");
    std::cout << (*rec)->ToJson().dump(2) << "\n";
    return 0;
  }
  if (sub == "promote" && a.positional.size() == 4) {
    auto stage = StageFromName(a.positional[3]);
    if (!stage) return Fail("unknown stage " + a.positional[3], 2);
    std::vector<std::string> stations;
    if (a.options.count("stations")) stations = SplitList(a.options.at("stations"));
    auto rec = reg.Promote(std::atoll(a.positional[2].c_str()), *stage, stations, "cli", reason, now_s);
    if (!rec) return Fail(rec.message());
    std::cout << "v" << rec->version << " " << rec->family.Label() << " is now "
              << StageName(rec->stage) << "\n";
    return 0;
  }
  if (sub == "rollback" && (a.positional.size() == 5 || a.positional.size() == 6)) {
    ModelFamily fam{a.positional[2], std::atoi(a.positional[3].c_str()), a.positional[4],
                    a.positional.size() == 6 ? a.positional[5] : ""};
    auto rec = reg.Rollback(fam, "cli", reason, now_s);
    if (!rec) return Fail(rec.message());
    std::cout << "v" << rec->version << " " << fam.Label() << " is production again\n";
    return 0;
  }
  return Fail("usage: models list|show V|promote V STAGE|rollback TARGET HORIZON KIND [STATION]", 2);
}

}  // namespace

bool IsModelCommand(const std::string& command) {
  return command == "train" || command == "models" || command == "keygen" ||
         command == "export-public-key";
}

int RunModelCommand(const CollectorConfig& config, const std::vector<std::string>& args) {
  Args a = Parse(args, {"no-station-models"});
  if (!a.error.empty()) return Fail(a.error, 2);
  const std::string& command = a.positional.at(0);
  if (command == "train") return Train(config, a);
  if (command == "models") return Models(config, a);
  const ModelsConfig mc = ResolveModelsPaths(config.models, config.db_path);
  auto key = LoadOrCreateSigningKey(mc.signing_key, mc.public_key);
  if (!key) return Fail("signing key: " + key.message());
  if (command == "keygen") {
    std::cerr << "private key " << mc.signing_key << " (mode 0600), public key " << mc.public_key
              << "\n";
  }
  std::cout << ToHex(key->public_key) << "\n";
  return 0;
}

}  // namespace sentinelle::collector
