#pragma once
// A read-only memory map of a whole file. Model checkpoints are large and mostly read once per
// forward pass, so they are mapped rather than read: the kernel pages weights in on first use and
// can drop them under memory pressure, and several models can share one file's pages.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "attrib/core/error.hpp"

namespace attrib {

class mapped_file {
 public:
  // Maps `path` read-only. Throws format_error naming the path and the system's reason when the
  // file cannot be opened, is not a regular file, or cannot be mapped. An empty file maps to an
  // empty span (mmap rejects zero-length maps).
  explicit mapped_file(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open file for reading");
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      const int error = errno;
      ::close(fd);
      fail("cannot stat file", error);
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd);
      throw format_error(path_.string() + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ > 0) {
      void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (address == MAP_FAILED) {
        const int error = errno;
        ::close(fd);
        fail("cannot map file into memory", error);
      }
      data_ = static_cast<const std::byte*>(address);
    }
    // The mapping stays valid after the descriptor is closed.
    ::close(fd);
  }

  mapped_file(mapped_file&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  mapped_file& operator=(mapped_file&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  ~mapped_file() { unmap(); }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const std::string& what, int error = errno) const {
    throw format_error(path_.string() + ": " + what + " (" + std::strerror(error) + ")");
  }

  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace attrib
