#include "ack_peer.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "sentinelle/topics.h"

namespace sentinelle::testing {

class AckPeer::Impl final : public virtual mqtt::callback {
 public:
  Impl(AckPeer* owner, std::string uri, std::string prefix, std::string client_id)
      : owner_(owner),
        topics_(std::move(prefix)),
        client_(uri, client_id, static_cast<mqtt::iclient_persistence*>(nullptr)) {
    client_.set_callback(*this);
  }

  bool Connect(const std::string& username, const std::string& password, bool persistent) {
    try {
      auto builder = mqtt::connect_options_builder().clean_session(!persistent);
      if (!username.empty()) builder.user_name(username).password(password);
      auto opts = builder.finalize();
      client_.connect(opts)->wait_for(std::chrono::seconds(10));
      if (!client_.is_connected()) return false;
      client_.subscribe(topics_.AllStations(StationChannel::kReadings), 1)
          ->wait_for(std::chrono::seconds(10));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  void Disconnect() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(std::chrono::seconds(5));
    } catch (const std::exception&) {
    }
  }

  bool Publish(const std::string& topic, const std::string& payload) {
    try {
      client_.publish(topic, payload.data(), payload.size(), 1, false)
          ->wait_for(std::chrono::seconds(5));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  bool SubscribeRaw(const std::string& filter) {
    try {
      client_.subscribe(filter, 1)->wait_for(std::chrono::seconds(10));
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  void message_arrived(mqtt::const_message_ptr msg) override {
    try {
      {
        std::lock_guard lock(mu_);
        auto& slot = raw_[msg->get_topic()];
        slot.first = msg->to_string();
        ++slot.second;
      }
      auto parsed = topics_.ParseStation(msg->get_topic());
      if (!parsed || parsed->channel != StationChannel::kReadings) return;
      ++owner_->messages_;
      const size_t size = msg->get_payload().size();
      for (size_t cur = owner_->max_payload_.load();
           size > cur && !owner_->max_payload_.compare_exchange_weak(cur, size);) {
      }
      auto batch = DecodeReadingBatch(msg->to_string(), parsed->station_id);
      if (!batch) {
        ++owner_->rejected_;
        return;
      }
      std::vector<int64_t> seqs;
      {
        std::lock_guard lock(mu_);
        for (const Reading& r : batch->readings) {
          received_.push_back({r.seq, batch->kind, r.window_end_s, r.boot_id, r});
          seqs.push_back(r.seq);
        }
      }
      if (!owner_->ack_) return;
      if (const int d = owner_->ack_delay_ms_; d > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
      }
      Ack ack{parsed->station_id, ToRanges(seqs)};
      client_.publish(topics_.Ack(parsed->station_id), EncodeAck(ack), 1, false);
      std::lock_guard lock(mu_);
      acked_.insert(seqs.begin(), seqs.end());
    } catch (const std::exception&) {
      // Never let an exception cross paho's callback thread.
    }
  }

  AckPeer* owner_;
  Topics topics_;
  mqtt::async_client client_;
  mutable std::mutex mu_;
  std::vector<ReceivedReading> received_;
  std::set<int64_t> acked_;
  std::map<std::string, std::pair<std::string, size_t>> raw_;
};

AckPeer::AckPeer(std::string broker_uri, std::string prefix, std::string client_id)
    : impl_(std::make_unique<Impl>(this, std::move(broker_uri), std::move(prefix),
                                   std::move(client_id))) {}
AckPeer::~AckPeer() { impl_->Disconnect(); }
bool AckPeer::Connect() { return impl_->Connect(username_, password_, persistent_session_); }
void AckPeer::Disconnect() { impl_->Disconnect(); }
bool AckPeer::Publish(const std::string& topic, const std::string& payload) {
  return impl_->Publish(topic, payload);
}
bool AckPeer::SubscribeRaw(const std::string& filter) { return impl_->SubscribeRaw(filter); }
std::string AckPeer::LastRaw(const std::string& topic) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->raw_.find(topic);
  return it == impl_->raw_.end() ? std::string() : it->second.first;
}
size_t AckPeer::RawCount(const std::string& topic) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->raw_.find(topic);
  return it == impl_->raw_.end() ? 0 : it->second.second;
}
std::vector<ReceivedReading> AckPeer::received() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->received_;
}
size_t AckPeer::received_count() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->received_.size();
}
size_t AckPeer::acked_count() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->acked_.size();
}
void AckPeer::Clear() {
  std::lock_guard lock(impl_->mu_);
  impl_->received_.clear();
}

}  // namespace sentinelle::testing
