#include "server/durability/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace paramserver {

namespace {

absl::StatusOr<uint64_t> FileSizeOfFd(int fd, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoToStatus(errno, "stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<int> OpenFd(const std::string& path, int flags) {
  int fd;
  do {
    fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoToStatus(errno, "open " + path);
  return fd;
}

}  // namespace

// ---- WritableFile ----

absl::StatusOr<std::unique_ptr<WritableFile>> WritableFile::Open(
    const std::string& path, Mode mode) {
  const int flags =
      O_WRONLY | O_CREAT | (mode == Mode::kTruncate ? O_TRUNC : O_APPEND);
  absl::StatusOr<int> fd = OpenFd(path, flags);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = FileSizeOfFd(*fd, path);
  if (!size.ok()) {
    close(*fd);
    return size.status();
  }
  return std::unique_ptr<WritableFile>(new WritableFile(path, *fd, *size));
}

WritableFile::~WritableFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status WritableFile::Append(absl::string_view data) {
  return AppendV({data});
}

absl::Status WritableFile::AppendV(absl::Span<const absl::string_view> pieces) {
  if (fd_ < 0) return absl::FailedPreconditionError(path_ + " is closed");
  std::vector<iovec> iov;
  uint64_t total = 0;
  for (absl::string_view piece : pieces) {
    if (piece.empty()) continue;
    iov.push_back({const_cast<char*>(piece.data()), piece.size()});
    total += piece.size();
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int count =
        static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t written = writev(fd_, &iov[first], count);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, "write " + path_);
    }
    // Skip what was written; a short write leaves a partial iovec.
    size_t left = static_cast<size_t>(written);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  size_ += total;
  return absl::OkStatus();
}

absl::Status WritableFile::Sync() const {
  if (fd_ < 0) return absl::FailedPreconditionError(path_ + " is closed");
  if (fdatasync(fd_) != 0) return ErrnoToStatus(errno, "fsync " + path_);
  return absl::OkStatus();
}

absl::Status WritableFile::Truncate(uint64_t size) {
  if (fd_ < 0) return absl::FailedPreconditionError(path_ + " is closed");
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("truncate ", path_, " to ", size));
  }
  size_ = size;
  return Sync();
}

absl::Status WritableFile::Close() {
  if (fd_ < 0) return absl::OkStatus();
  const int result = close(fd_);
  fd_ = -1;
  if (result != 0) return ErrnoToStatus(errno, "close " + path_);
  return absl::OkStatus();
}

// ---- RandomAccessFile ----

absl::StatusOr<std::unique_ptr<RandomAccessFile>> RandomAccessFile::Open(
    const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = FileSizeOfFd(*fd, path);
  if (!size.ok()) {
    close(*fd);
    return size.status();
  }
  return std::unique_ptr<RandomAccessFile>(
      new RandomAccessFile(path, *fd, *size));
}

RandomAccessFile::~RandomAccessFile() { close(fd_); }

absl::Status RandomAccessFile::ReadAt(uint64_t offset,
                                      absl::Span<char> dst) const {
  size_t done = 0;
  while (done < dst.size()) {
    const ssize_t n = pread(fd_, dst.data() + done, dst.size() - done,
                            static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, "read " + path_);
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(path_, " ends at byte ", offset + done, ", expected ",
                       dst.size() - done, " more bytes"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// ---- MappedFile ----

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(
    const std::string& path) {
  absl::StatusOr<int> fd = OpenFd(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> size = FileSizeOfFd(*fd, path);
  if (!size.ok() || *size == 0) {
    close(*fd);
    if (!size.ok()) return size.status();
    return std::unique_ptr<MappedFile>(new MappedFile(nullptr, 0));
  }
  void* data = mmap(nullptr, *size, PROT_READ, MAP_PRIVATE, *fd, 0);
  const int err = errno;
  close(*fd);  // The mapping keeps the file.
  if (data == MAP_FAILED) return ErrnoToStatus(err, "mmap " + path);
  return std::unique_ptr<MappedFile>(
      new MappedFile(static_cast<const char*>(data), *size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<char*>(data_), size_);
}

// ---- Whole files and directories ----

absl::Status WriteFileAtomically(
    const std::string& dir, const std::string& name,
    const std::function<absl::Status(WritableFile*)>& writer) {
  const std::string final_path = JoinPath(dir, name);
  const std::string tmp_path = final_path + ".tmp";
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<WritableFile>> file =
        WritableFile::Open(tmp_path, WritableFile::Mode::kTruncate);
    if (!file.ok()) return file.status();
    absl::Status written = writer(file->get());
    if (written.ok()) written = (*file)->Sync();
    absl::Status closed = (*file)->Close();
    if (!written.ok()) return written;
    if (!closed.ok()) return closed;
    return RenamePath(tmp_path, final_path);
  }();
  if (!status.ok()) {
    unlink(tmp_path.c_str());  // Best effort; the status says what failed.
    return status;
  }
  return SyncDirectory(dir);
}

absl::Status WriteFileAtomically(const std::string& dir,
                                 const std::string& name,
                                 absl::string_view contents) {
  return WriteFileAtomically(dir, name, [contents](WritableFile* file) {
    return file->Append(contents);
  });
}

absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoToStatus(errno, "list " + dir);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = readdir(d)) {
    const absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  closedir(d);
  if (err != 0) return ErrnoToStatus(err, "list " + dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty directory path");
  for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno, "mkdir " + prefix);
    }
    if (slash == std::string::npos) break;
  }
  return absl::OkStatus();
}

absl::Status RemoveAll(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoToStatus(errno, "stat " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    absl::StatusOr<std::vector<std::string>> names = ListDirectory(path);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      absl::Status status = RemoveAll(JoinPath(path, name));
      if (!status.ok()) return status;
    }
    if (rmdir(path.c_str()) != 0) return ErrnoToStatus(errno, "rmdir " + path);
    return absl::OkStatus();
  }
  if (unlink(path.c_str()) != 0) return ErrnoToStatus(errno, "unlink " + path);
  return absl::OkStatus();
}

absl::Status RenamePath(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  absl::StatusOr<int> fd = OpenFd(dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.status();
  const int result = fsync(*fd);
  const int err = errno;
  close(*fd);
  if (result != 0) return ErrnoToStatus(err, "fsync directory " + dir);
  return absl::OkStatus();
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

}  // namespace paramserver
