// deploy_mqtt_probe: one MQTT connection (paho-mqtt-cpp) driven over
// stdin/stdout by the broker security tests, so that a test can subscribe
// and publish as one account on one connection (the broker allows a single
// connection per account) while every probe connects at once (paho delays
// the second connection of a process by up to two seconds).
//
//   deploy_mqtt_probe URI CLIENT_ID USERNAME PASSWORD CA_FILE MQTT_VERSION
//   (empty strings for "none"; CA_FILE non-empty for ssl:// URIs)
//
// Output, one line each, flushed:
//   CONNACK <code>            0, the broker's reason/return code, or -1
//                             (no answer: TLS refused, connection dropped)
//   SUBACK <id> <code>        granted QoS or reason code >= 0x80
//   PUBACK <id> <code>        0/0x10 accepted, >= 0x80 refused, -1 no answer
//   MSG\t<topic>\t<retained>\t<payload>
//   LOST                      the broker closed the connection
// Input, one command a line:
//   SUB <id> <filter>
//   PUB <id> <topic> <retain 0|1> <payload file>
// Exits at end of input. Exceptions from paho stop here.
//
// The process ends with _Exit once its output is flushed, without destroying
// the client: paho's C library (1.3.12) has a race in which its receive
// thread still runs after MQTTAsync_destroy (eclipse-paho/paho.mqtt.c#1669),
// and under AddressSanitizer a probe then crashed at exit, now and then (a
// SEGV in that thread, found by the sanitizer suite), and a refused TLS
// connection left OpenSSL objects that LeakSanitizer reported at exit. Neither
// is this probe's code, and a probe's job ends with its last line of output.
#include <mqtt/async_client.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

namespace {

std::mutex out_mu;

void Emit(const std::string& line) {
  std::lock_guard<std::mutex> lock(out_mu);
  std::cout << line << std::endl;
}

int CodeOf(const mqtt::exception& e) {
  if (e.get_reason_code() != 0) return e.get_reason_code();
  // 3.1.1 CONNACK return codes come back as positive return codes; local
  // failures (TLS, socket) as negative ones.
  return e.get_return_code() > 0 ? e.get_return_code() : -1;
}

// Flushes what was emitted and ends the process without running destructors
// or exit handlers (see the top of the file).
[[noreturn]] void Finish(int code) {
  {
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout.flush();
    std::cerr.flush();
  }
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: deploy_mqtt_probe URI CLIENT_ID USERNAME PASSWORD CA_FILE MQTT_VERSION\n";
    return 2;
  }
  const std::string uri = argv[1], client_id = argv[2], user = argv[3], pass = argv[4],
                    ca = argv[5];
  const bool v5 = std::string(argv[6]) == "5";
  const auto timeout = std::chrono::seconds(10);
  try {
    mqtt::async_client client(uri, client_id,
                              mqtt::create_options(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1));
    client.set_message_callback([](mqtt::const_message_ptr m) {
      Emit("MSG\t" + m->get_topic() + "\t" + (m->is_retained() ? "1" : "0") + "\t" +
           m->to_string());
    });
    client.set_connection_lost_handler([](const std::string&) { Emit("LOST"); });
    client.set_disconnected_handler(
        [](const mqtt::properties&, mqtt::ReasonCode) { Emit("LOST"); });
    auto builder = mqtt::connect_options_builder();
    if (v5) builder.mqtt_version(MQTTVERSION_5).clean_start(true);
    else builder.mqtt_version(MQTTVERSION_3_1_1).clean_session(true);
    builder.connect_timeout(timeout).automatic_reconnect(false);
    if (!user.empty()) builder.user_name(user);
    if (!pass.empty()) builder.password(pass);
    if (!ca.empty()) {
      builder.ssl(mqtt::ssl_options_builder()
                      .trust_store(ca)
                      .enable_server_cert_auth(true)
                      .verify(true)
                      .finalize());
    }
    try {
      if (!client.connect(builder.finalize())->wait_for(timeout)) {
        Emit("CONNACK -1");
        Finish(1);
      }
    } catch (const mqtt::exception& e) {
      Emit("CONNACK " + std::to_string(CodeOf(e)));
      Finish(1);
    }
    Emit("CONNACK 0");

    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string cmd, id;
      in >> cmd >> id;
      if (cmd == "SUB") {
        std::string filter;
        in >> filter;
        int code = -1;
        try {
          auto tok = client.subscribe(filter, 1);
          if (tok->wait_for(timeout)) {
            const auto codes = tok->get_subscribe_response().get_reason_codes();
            code = codes.empty() ? -1 : codes[0];
          }
        } catch (const mqtt::exception& e) {
          code = CodeOf(e);
        }
        Emit("SUBACK " + id + " " + std::to_string(code));
      } else if (cmd == "PUB") {
        std::string topic, file;
        int retain = 0;
        in >> topic >> retain >> file;
        std::ifstream f(file, std::ios::binary);
        std::stringstream payload;
        payload << f.rdbuf();
        int code = -1;
        try {
          auto tok = client.publish(mqtt::make_message(topic, payload.str(), 1, retain != 0));
          if (tok->wait_for(timeout)) code = tok->get_reason_code();
        } catch (const mqtt::exception& e) {
          code = CodeOf(e);
        }
        Emit("PUBACK " + id + " " + std::to_string(code));
      }
    }
    if (client.is_connected()) client.disconnect()->wait_for(timeout);
    Finish(0);
  } catch (const mqtt::exception& e) {
    std::cerr << "deploy_mqtt_probe: " << e.what() << "\n";
    Finish(1);
  }
}
