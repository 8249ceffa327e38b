#pragma once
// Output files that appear under their final name only when complete. Everything is written to a
// temporary file in the target's folder (the same file system, so the final rename is atomic) and
// renamed over the target on commit(); a write error, an exception or an interrupted run leaves
// no file under the final name and an existing one intact. A target that exists and is not a
// regular file (/dev/null, /dev/stdout, a FIFO) is written directly: renaming over it would
// replace the device with a file.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "attrib/core/error.hpp"

namespace attrib {

class atomic_file_writer {
 public:
  explicit atomic_file_writer(std::filesystem::path target) : target_(std::move(target)) {
    if (target_.empty()) throw invalid_argument("atomic_file_writer: empty output path");
    if (std::filesystem::is_directory(target_))
      throw format_error(target_.string() + ": is a directory, expected a file name to write");
    std::error_code ignored;
    const auto status = std::filesystem::status(target_, ignored);
    direct_ = std::filesystem::exists(status) && !std::filesystem::is_regular_file(status);
    temporary_ = direct_ ? target_ : temporary_name(target_);
    stream_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!stream_) throw format_error(target_.string() + ": cannot open file for writing (in " + folder_text() + ")");
  }
  atomic_file_writer(const atomic_file_writer&) = delete;
  atomic_file_writer& operator=(const atomic_file_writer&) = delete;
  ~atomic_file_writer() { discard(); }

  std::ostream& stream() { return stream_; }
  const std::filesystem::path& target() const { return target_; }

  // Flushes, closes and renames the temporary over the target; throws format_error (and removes
  // the temporary) when any write failed.
  void commit() {
    if (committed_) return;
    stream_.flush();
    const bool written = static_cast<bool>(stream_);
    stream_.close();
    if (!written || stream_.fail()) {
      discard();
      throw format_error(target_.string() + ": write failed (disk full or file system error)");
    }
    if (direct_) {
      committed_ = true;
      return;
    }
    std::error_code error;
    std::filesystem::rename(temporary_, target_, error);
    if (error) {
      discard();
      throw format_error(target_.string() + ": cannot replace the file (" + error.message() + ")");
    }
    committed_ = true;
  }

 private:
  // ".name.attrib-<clock>-<counter>.tmp" beside the target: hidden, and unique across threads and
  // across processes started at different clock ticks.
  static std::filesystem::path temporary_name(const std::filesystem::path& target) {
    static std::atomic<std::uint64_t> counter{0};
    const auto tick = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    const std::string name = "." + target.filename().string() + ".attrib-" + std::to_string(tick) + "-" +
                             std::to_string(counter.fetch_add(1)) + ".tmp";
    return target.parent_path() / name;
  }
  std::string folder_text() const {
    const auto folder = target_.parent_path();
    return folder.empty() ? std::string("the current folder") : folder.string();
  }
  void discard() noexcept {
    if (committed_) return;
    if (stream_.is_open()) stream_.close();
    if (direct_) return;  // never remove a device or FIFO
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }

  std::filesystem::path target_, temporary_;
  std::ofstream stream_;
  bool committed_ = false;
  bool direct_ = false;  // the target is not a regular file: written in place, never renamed over
};

// Writes `bytes` to `path` through a temporary file and a rename.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  atomic_file_writer file(path);
  file.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.commit();
}

}  // namespace attrib
