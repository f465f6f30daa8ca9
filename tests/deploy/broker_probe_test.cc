// The broker alert chain of configs/prometheus/: the blackbox exporter with
// the committed mqtt_tls module probes a real TLS broker (the committed
// broker config) and reports probe_success 1, then 0 once the broker is
// gone, which is what SentinelleBrokerDown fires on.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "secure_broker.h"

namespace sentinelle::testing {
namespace {

std::string Probe(int exporter_port, int target_port, const TempDir& dir) {
  const std::string out = dir.File("probe.out");
  ChildProcess curl({"/usr/bin/curl", "-sS", "--max-time", "10", "-o", out,
                     "http://127.0.0.1:" + std::to_string(exporter_port) +
                         "/probe?module=mqtt_tls&target=127.0.0.1:" + std::to_string(target_port)},
                    dir.File("curl.log"));
  if (!curl.Start() || curl.Wait(std::chrono::seconds(15)) != 0) return "";
  return ReadFile(out);
}

TEST(BrokerProbeTest, BlackboxSeesTheTlsListenerUpThenDown) {
  const std::string exporter = "/usr/bin/prometheus-blackbox-exporter";
  if (access(exporter.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "prometheus-blackbox-exporter is not installed (Debian package of that "
                    "name; scripts/setup.sh installs it)";
  }
  SecureBroker broker({"st-a"});
  ASSERT_TRUE(broker.Start()) << broker.Log();

  // The committed module, with the CA path of this test's PKI.
  TempDir dir;
  std::string config = ReadFile(RepoPath("configs/prometheus/blackbox.yml"));
  const std::string ca_line = "ca_file: /etc/blackbox/ca.crt";
  const size_t at = config.find(ca_line);
  ASSERT_NE(at, std::string::npos);
  config.replace(at, ca_line.size(), "ca_file: " + broker.ca_file());
  std::ofstream(dir.File("blackbox.yml")) << config;

  const int port = FreeLoopbackPort();
  ChildProcess bb({exporter, "--config.file=" + dir.File("blackbox.yml"),
                   "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                  dir.File("blackbox.log"));
  ASSERT_TRUE(bb.Start());
  ASSERT_TRUE(WaitFor([&] { return PortOpen(port) || !bb.Running(); }, std::chrono::seconds(15)) &&
              bb.Running())
      << bb.Log();

  std::string metrics = Probe(port, broker.tls_port(), dir);
  EXPECT_NE(metrics.find("\nprobe_success 1\n"), std::string::npos) << metrics << bb.Log();
  // The certificate's expiry is there for SentinelleBrokerCertificateExpiresSoon.
  EXPECT_NE(metrics.find("probe_ssl_earliest_cert_expiry "), std::string::npos) << metrics;

  // The loopback plaintext listener is not TLS: the same module fails on it.
  metrics = Probe(port, broker.plain_port(), dir);
  EXPECT_NE(metrics.find("\nprobe_success 0\n"), std::string::npos) << metrics;

  broker.Stop();
  metrics = Probe(port, broker.tls_port(), dir);
  EXPECT_NE(metrics.find("\nprobe_success 0\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace sentinelle::testing
