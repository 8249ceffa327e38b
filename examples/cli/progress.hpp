#pragma once
// Progress of a long run on standard error. On a terminal: one line redrawn in place - a bar, the
// count, the rate and the time left - at most ten times a second. Otherwise (a log file, a pipe):
// a plain line every ten seconds and one at the end, never a carriage return. Nothing under
// --quiet, and nothing for runs that finish within a second.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include "arguments.hpp"

namespace cli {

class progress {
 public:
  // `label` starts every line ("attrib explain"), `unit` names what is counted ("instances"),
  // `total` how many there are (0 when the library reports it with each update).
  progress(const arguments& a, std::string label, std::string unit, std::uint64_t total)
      : enabled_(!a.flag("quiet")),
        terminal_(isatty(STDERR_FILENO) == 1),
        label_(std::move(label)),
        unit_(std::move(unit)),
        total_(total),
        start_(clock::now()),
        last_(start_) {}
  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;
  ~progress() {
    if (shown_ && terminal_ && !finished_) std::cerr << "\n" << std::flush;
  }

  // `done` of `total` are complete (for work whose size the library reports as it goes).
  void update(std::uint64_t done, std::uint64_t total) {
    total_ = total;
    update(done);
  }

  // `done` of the total are complete.
  void update(std::uint64_t done) {
    if (!enabled_ || finished_ || total_ <= 1) return;
    done = std::min(done, total_);
    const auto now = clock::now();
    const double elapsed = seconds(now - start_);
    const bool last = done >= total_;
    if (elapsed < 1.0 && !(last && shown_)) return;
    const double since = seconds(now - last_);
    if (!last && since < (terminal_ ? 0.1 : 10.0) && shown_) return;
    if (!last && !terminal_ && !shown_ && elapsed < 10.0) return;
    last_ = now;
    shown_ = true;
    const double rate = static_cast<double>(done) / elapsed;
    std::string line = label_ + ": ";
    if (terminal_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total_));
      line += "[" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), '.') + "] ";
    }
    line += std::to_string(done) + "/" + std::to_string(total_) + " " + unit_ + ", " + format_rate(rate) + " " + unit_ + "/s, ";
    line += last ? format_time(elapsed) + " in all" : format_time(static_cast<double>(total_ - done) / rate) + " left";
    // The last report ends its line, so that messages after the run start on their own.
    finished_ = last;
    if (terminal_)
      std::cerr << "\r" << line << "\x1b[K" << (last ? "\n" : "") << std::flush;  // erase what a longer line left
    else
      std::cerr << line << "\n" << std::flush;
  }

 private:
  using clock = std::chrono::steady_clock;
  static double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }
  static std::string format_rate(double rate) {
    char text[32];
    std::snprintf(text, sizeof text, rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f", rate);
    return text;
  }
  static std::string format_time(double s) {
    const auto total = static_cast<long long>(s + 0.5);
    if (total < 60) return std::to_string(total) + " s";
    if (total < 3600) return std::to_string(total / 60) + " min " + std::to_string(total % 60) + " s";
    return std::to_string(total / 3600) + " h " + std::to_string(total / 60 % 60) + " min";
  }

  bool enabled_, terminal_;
  std::string label_, unit_;
  std::uint64_t total_;
  clock::time_point start_, last_;
  bool shown_ = false, finished_ = false;
};

}  // namespace cli
