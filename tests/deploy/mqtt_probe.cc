#include "mqtt_probe.h"

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>

namespace sentinelle::testing {

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string UniqueName(const std::string& dir, const std::string& stem) {
  static std::atomic<int> n{0};
  return dir + "/" + stem + "-" + std::to_string(n++);
}

// Last match of `re` (one integer group) in `out`, or -1.
int LastCode(const std::string& out, const std::regex& re) {
  int code = -1;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator();
       ++it) {
    code = std::stoi((*it)[1].str());
  }
  return code;
}

// Complete lines only: the last one may still be being written.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// The code on the complete line "<prefix><code>", or -1. Plain string
// scanning: the output holds megabyte-long message lines.
int ReplyCode(const std::string& text, const std::string& prefix) {
  for (const auto& line : Lines(text)) {
    if (line.rfind(prefix, 0) == 0) return std::stoi(line.substr(prefix.size()));
  }
  return -1;
}

Outcome RunMosquittoPub(const ProbeOptions& o, const std::vector<std::string>& extra,
                        const std::string& scratch) {
  std::vector<std::string> argv{"/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p",
                                std::to_string(o.port), "-q", "1", "-d",
                                "-V", o.mqtt_version == 5 ? "5" : "311"};
  if (!o.ca_file.empty()) argv.insert(argv.end(), {"--cafile", o.ca_file});
  if (!o.client_id.empty()) argv.insert(argv.end(), {"-i", o.client_id});
  if (!o.username.empty()) argv.insert(argv.end(), {"-u", o.username});
  if (!o.password.empty()) argv.insert(argv.end(), {"-P", o.password});
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string log = UniqueName(scratch, "mosquitto_pub") + ".log";
  ChildProcess p(argv, log);
  Outcome out;
  if (!p.Start()) {
    out.output = "could not start mosquitto_pub";
    return out;
  }
  const int rc = p.Wait(o.timeout);
  if (rc < 0) p.Kill();
  out.output = Slurp(log) + (rc < 0 ? "\n[timed out]" : "");
  static const std::regex connack(R"(received CONNACK \((\d+)\))");
  static const std::regex puback_v5(R"(received PUBACK \(Mid: \d+, RC:(\d+)\))");
  out.connack = LastCode(out.output, connack);
  out.puback = LastCode(out.output, puback_v5);
  // 3.1.1 PUBACKs carry no reason code.
  if (out.puback < 0 && out.output.find("received PUBACK (Mid:") != std::string::npos) {
    out.puback = 0;
  }
  return out;
}

}  // namespace

Outcome TryConnect(const ProbeOptions& options, const std::string& scratch_dir) {
  // An empty message to a topic nobody may write: only the CONNACK matters.
  Outcome out = RunMosquittoPub(options, {"-t", "probe/connect", "-n"}, scratch_dir);
  out.ok = out.connack == 0;
  return out;
}

Outcome PublishOnce(const ProbeOptions& options, const std::string& topic,
                    const std::string& payload, const std::string& scratch_dir) {
  const std::string file = UniqueName(scratch_dir, "payload");
  std::ofstream(file, std::ios::binary) << payload;
  Outcome out = RunMosquittoPub(options, {"-t", topic, "-f", file}, scratch_dir);
  out.ok = out.connack == 0 && out.puback >= 0 && out.puback < 0x80;
  return out;
}

Probe::Probe(ProbeOptions options, std::string scratch_dir)
    : options_(std::move(options)),
      scratch_(std::move(scratch_dir)),
      log_path_(UniqueName(scratch_, "probe") + ".log") {
  if (options_.client_id.empty()) options_.client_id = UniqueName("probe", options_.username);
}

Probe::~Probe() {
  if (proc_) {
    proc_->CloseStdin();
    if (proc_->Wait(std::chrono::seconds(5)) < 0) proc_->Kill();
  }
}

Outcome Probe::Connect() {
  const std::string scheme = options_.ca_file.empty() ? "tcp://" : "ssl://";
  proc_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{BinPath("deploy_mqtt_probe"),
                               scheme + "127.0.0.1:" + std::to_string(options_.port),
                               options_.client_id, options_.username, options_.password,
                               options_.ca_file, options_.mqtt_version == 5 ? "5" : "311"},
      log_path_);
  Outcome out;
  if (!proc_->Start(/*pipe_stdin=*/true)) {
    out.output = "could not start deploy_mqtt_probe";
    return out;
  }
  WaitFor([&] { return ReplyCode(Output(), "CONNACK ") != -1 || !proc_->Running(); },
          options_.timeout + std::chrono::seconds(5));
  out.output = Output();
  out.connack = ReplyCode(out.output, "CONNACK ");
  out.ok = out.connack == 0;
  return out;
}

int Probe::Request(const std::string& command, const std::string& reply) {
  const std::string id = std::to_string(next_id_++);
  if (!proc_ || !proc_->WriteStdin(command.substr(0, 4) + id + " " + command.substr(4) + "\n")) {
    return -1;
  }
  const std::string prefix = reply + " " + id + " ";
  int code = -1;
  WaitFor(
      [&] {
        code = ReplyCode(Output(), prefix);
        return code != -1 || !proc_->Running();
      },
      options_.timeout + std::chrono::seconds(5));
  return code;
}

int Probe::Subscribe(const std::string& filter) { return Request("SUB " + filter, "SUBACK"); }

Outcome Probe::Publish(const std::string& topic, const std::string& payload, bool retained) {
  const std::string file = UniqueName(scratch_, "payload");
  std::ofstream(file, std::ios::binary) << payload;
  Outcome out;
  out.connack = 0;
  out.puback =
      Request("PUB " + topic + " " + (retained ? "1" : "0") + " " + file, "PUBACK");
  out.ok = out.puback >= 0 && out.puback < 0x80;
  out.output = Output();
  return out;
}

bool Probe::Lost() const {
  for (const auto& line : Lines(Output())) {
    if (line == "LOST") return true;
  }
  return false;
}

std::vector<Delivered> Probe::Messages() const {
  std::vector<Delivered> out;
  for (const auto& line : Lines(Output())) {
    if (line.rfind("MSG\t", 0) != 0) continue;
    const size_t t1 = line.find('\t', 4);
    const size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;
    out.push_back({line.substr(4, t1 - 4), line.substr(t2 + 1),
                   line.substr(t1 + 1, t2 - t1 - 1) == "1"});
  }
  return out;
}

std::vector<Delivered> Probe::MessagesOn(const std::string& topic) const {
  std::vector<Delivered> out;
  for (auto& m : Messages()) {
    if (m.topic == topic) out.push_back(std::move(m));
  }
  return out;
}

bool Probe::WaitForMessage(const std::string& topic, const std::string& payload,
                           std::chrono::milliseconds timeout) const {
  return WaitFor(
      [&] {
        for (const auto& m : Messages()) {
          if (m.topic == topic && m.payload == payload) return true;
        }
        return false;
      },
      timeout);
}

std::string Probe::Output() const { return Slurp(log_path_); }

}  // namespace sentinelle::testing
