#include "sentinelle/history_csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

namespace sentinelle {

namespace {

constexpr size_t kFlushBytes = 1 << 20;

// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm);
// formatting by hand keeps gmtime_r and snprintf out of the per-row path.
void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

void Put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

void AppendUtc(std::string& out, int64_t unix_s) {
  int64_t days = unix_s / 86400;
  int64_t sec = unix_s % 86400;
  if (sec < 0) {
    sec += 86400;
    --days;
  }
  int y, m, d;
  CivilFromDays(days, &y, &m, &d);
  char buf[20];
  if (y < 0 || y > 9999) {
    out += FormatUtc(unix_s);
    return;
  }
  Put2(buf, y / 100);
  Put2(buf + 2, y % 100);
  buf[4] = '-';
  Put2(buf + 5, m);
  buf[7] = '-';
  Put2(buf + 8, d);
  buf[10] = 'T';
  Put2(buf + 11, static_cast<int>(sec / 3600));
  buf[13] = ':';
  Put2(buf + 14, static_cast<int>(sec / 60 % 60));
  buf[16] = ':';
  Put2(buf + 17, static_cast<int>(sec % 60));
  buf[19] = 'Z';
  out.append(buf, 20);
}

void AppendNumber(std::string& out, double v, int decimals) {
  if (!std::isfinite(v)) return;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, decimals);
  if (ec != std::errc()) return;
  char* dot = static_cast<char*>(std::memchr(buf, '.', static_cast<size_t>(end - buf)));
  if (dot != nullptr) {
    while (end > dot + 1 && end[-1] == '0') --end;
    if (end == dot + 1) end = dot;
  }
  // "-0" after rounding a tiny negative reads oddly; it is a zero.
  if (end - buf == 2 && buf[0] == '-' && buf[1] == '0') {
    out.push_back('0');
    return;
  }
  out.append(buf, static_cast<size_t>(end - buf));
}

std::string ColumnName(int column) {
  if (column == 1) return "station_id";
  if (column == 2) return "ts";
  return std::string(Variables()[column - 3].name);
}

Error LineError(int64_t line_no, int column, const std::string& what) {
  return MakeError("line " + std::to_string(line_no) + ", column " + std::to_string(column) +
                   " (" + ColumnName(column) + "): " + what);
}

std::string Shortest(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "'";
  out += s.size() > kMax ? std::string(s.substr(0, kMax)) + "..." : std::string(s);
  out += "'";
  return out;
}

}  // namespace

bool ValidStationId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

void AppendHistoryCsvRow(std::string& out, std::string_view station_id, int64_t ts_s,
                         const std::array<double, kVariableCount>& values, int decimals) {
  out.append(station_id);
  out.push_back(',');
  AppendUtc(out, ts_s);
  for (double v : values) {
    out.push_back(',');
    AppendNumber(out, v, decimals);
  }
  out.push_back('\n');
}

HistoryCsvWriter::HistoryCsvWriter(std::FILE* out, int decimals)
    : out_(out), decimals_(decimals) {
  buffer_.reserve(kFlushBytes + 4096);
}

Result<std::unique_ptr<HistoryCsvWriter>> HistoryCsvWriter::Create(const std::string& path,
                                                                   int decimals) {
  if (path == "-") return std::make_unique<HistoryCsvWriter>(stdout, decimals);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return MakeError("cannot create " + path + ": " + std::strerror(errno));
  auto w = std::make_unique<HistoryCsvWriter>(f, decimals);
  w->owned_ = true;
  return w;
}

HistoryCsvWriter::~HistoryCsvWriter() { (void)Close(); }

Status HistoryCsvWriter::Drain() {
  if (!error_.ok()) return error_;
  if (!buffer_.empty()) {
    const size_t n = std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    if (n != buffer_.size()) {
      error_ = MakeError(std::string("history CSV write failed: ") + std::strerror(errno));
    }
    buffer_.clear();
  }
  return error_;
}

Status HistoryCsvWriter::WriteHeader() {
  if (!error_.ok()) return error_;
  buffer_.append(kHistoryCsvHeader);
  buffer_.push_back('\n');
  return Status::Ok();
}

Status HistoryCsvWriter::WriteRow(std::string_view station_id, int64_t ts_s,
                                  const std::array<double, kVariableCount>& values) {
  if (!error_.ok()) return error_;
  AppendHistoryCsvRow(buffer_, station_id, ts_s, values, decimals_);
  ++rows_;
  if (buffer_.size() >= kFlushBytes) return Drain();
  return Status::Ok();
}

Status HistoryCsvWriter::Flush() {
  if (out_ == nullptr) return error_;
  Status s = Drain();
  if (!s.ok()) return s;
  if (std::fflush(out_) != 0) {
    error_ = MakeError(std::string("history CSV flush failed: ") + std::strerror(errno));
  }
  return error_;
}

Status HistoryCsvWriter::Close() {
  if (out_ == nullptr) return error_;
  Status s = Flush();
  if (owned_) {
    if (std::fclose(out_) != 0 && error_.ok()) {
      error_ = MakeError(std::string("history CSV close failed: ") + std::strerror(errno));
    }
  }
  out_ = nullptr;
  return error_;
}

HistoryCsvReader::HistoryCsvReader(std::istream& in, HistoryCsvReaderOptions options)
    : in_(&in), options_(options) {}

HistoryCsvReader::~HistoryCsvReader() = default;

Result<std::unique_ptr<HistoryCsvReader>> HistoryCsvReader::Open(
    const std::string& path, HistoryCsvReaderOptions options) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!file->is_open()) return MakeError("cannot open " + path + ": " + std::strerror(errno));
  auto reader = std::make_unique<HistoryCsvReader>(*file, options);
  reader->owned_ = std::move(file);
  return reader;
}

Status ParseHistoryCsvLine(std::string_view line, int64_t line_no,
                           const HistoryCsvReaderOptions& options, HistoryRow* row) {
  size_t pos = 0;
  for (int column = 1; column <= kHistoryCsvColumns; ++column) {
    const size_t comma = line.find(',', pos);
    const bool last = column == kHistoryCsvColumns;
    if (!last && comma == std::string_view::npos) {
      return LineError(line_no, column + 1,
                       "missing: the line has " + std::to_string(column) + " fields, expected " +
                           std::to_string(kHistoryCsvColumns));
    }
    if (last && comma != std::string_view::npos) {
      return MakeError("line " + std::to_string(line_no) + ", column " +
                       std::to_string(kHistoryCsvColumns + 1) + ": unexpected extra field, expected " +
                       std::to_string(kHistoryCsvColumns) + " fields");
    }
    const std::string_view field =
        last ? line.substr(pos) : line.substr(pos, comma - pos);
    pos = last ? line.size() : comma + 1;
    if (column == 1) {
      if (!ValidStationId(field)) {
        return LineError(line_no, column,
                         Quote(field) + " is not a station id ([a-z0-9_-]{1,64})");
      }
      row->station_id.assign(field);
    } else if (column == 2) {
      auto ts = ParseUtc(field);
      if (!ts) {
        return LineError(line_no, column,
                         Quote(field) + " is not an ISO-8601 UTC time (YYYY-MM-DDTHH:MM:SSZ)");
      }
      row->ts_s = *ts;
    } else {
      const int vi = column - 3;
      if (field.empty()) {
        row->values[vi] = kMissingValue;
        continue;
      }
      double v = 0;
      const char* b = field.data();
      const char* e = b + field.size();
      // from_chars rejects a leading '+', which some exporters write.
      if (*b == '+' && field.size() > 1) ++b;
      auto [p, ec] = std::from_chars(b, e, v);
      if (ec != std::errc() || p != e || !std::isfinite(v)) {
        return LineError(line_no, column, Quote(field) + " is not a number");
      }
      const VariableInfo& info = Variables()[vi];
      if (options.check_ranges && (v < info.min || v > info.max)) {
        return LineError(line_no, column,
                         Quote(field) + " is outside the plausible range " +
                             Shortest(info.min) + ".." + Shortest(info.max) + " " +
                             std::string(info.unit));
      }
      row->values[vi] = v;
    }
  }
  return Status::Ok();
}

Result<bool> HistoryCsvReader::Next(HistoryRow* row) {
  if (line_ == 0) {
    if (!std::getline(*in_, text_)) {
      return MakeError("line 1: empty input, expected the header " +
                       std::string(kHistoryCsvHeader));
    }
    line_ = 1;
    if (!text_.empty() && text_.back() == '\r') text_.pop_back();
    if (text_.size() >= 3 && text_.compare(0, 3, "\xEF\xBB\xBF") == 0) text_.erase(0, 3);
    if (text_ != kHistoryCsvHeader) {
      // Name the first column that differs.
      std::string_view got = text_, want = kHistoryCsvHeader;
      int column = 1;
      for (size_t i = 0; i < std::min(got.size(), want.size()) && got[i] == want[i]; ++i) {
        if (got[i] == ',') ++column;
      }
      const std::string expected =
          column <= kHistoryCsvColumns ? ColumnName(column) : std::string("end of line");
      return MakeError("line 1, column " + std::to_string(column) +
                       ": header does not match the history schema (expected '" + expected +
                       "'); the header must be exactly " + std::string(kHistoryCsvHeader));
    }
  }
  if (!std::getline(*in_, text_)) {
    if (in_->bad()) return MakeError("line " + std::to_string(line_ + 1) + ": read error");
    return false;
  }
  ++line_;
  if (!text_.empty() && text_.back() == '\r') text_.pop_back();
  if (text_.empty()) {
    return MakeError("line " + std::to_string(line_) + ", column 1 (station_id): empty line");
  }
  Status s = ParseHistoryCsvLine(text_, line_, options_, row);
  if (!s.ok()) return s.error();
  return true;
}

Result<std::vector<HistoryRow>> ReadHistoryCsvFile(const std::string& path,
                                                   HistoryCsvReaderOptions options) {
  auto reader = HistoryCsvReader::Open(path, options);
  if (!reader) return reader.error();
  std::vector<HistoryRow> rows;
  HistoryRow row;
  while (true) {
    auto more = (*reader)->Next(&row);
    if (!more) return MakeError(path + ": " + more.message());
    if (!*more) break;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace sentinelle
