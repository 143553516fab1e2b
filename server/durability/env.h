#ifndef PARAM_SERVER_SERVER_DURABILITY_ENV_H_
#define PARAM_SERVER_SERVER_DURABILITY_ENV_H_

// POSIX file primitives for the durability code (checkpoints, write-ahead
// log), as leveldb's env: every one returns absl::Status with the path and
// strerror text, with the codes of ErrnoToStatus (common/file_util.h).
//
// None of these classes is thread-safe unless its comment says so.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/file_util.h"

namespace paramserver {

// A file written front to back through a file descriptor.
class WritableFile {
 public:
  enum class Mode {
    kTruncate,  // Create or empty the file.
    kAppend,    // Create or keep the file; writes go to its end.
  };
  static absl::StatusOr<std::unique_ptr<WritableFile>> Open(
      const std::string& path, Mode mode);
  ~WritableFile();  // Closes without syncing; errors are lost (call Close).
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;

  // Writes all of `pieces`, in order, retrying short writes and EINTR. On an
  // error a prefix may have been written; size() counts only whole
  // successful calls, so Truncate(size()) undoes the partial write.
  absl::Status Append(absl::string_view data);
  absl::Status AppendV(absl::Span<const absl::string_view> pieces);
  // fdatasync: on return the bytes written so far survive power loss. May run
  // concurrently with Append from another thread (it only reads fd_).
  absl::Status Sync() const;
  // Cuts the file to `size` bytes and syncs it.
  absl::Status Truncate(uint64_t size);
  // Closes the descriptor; later calls fail.
  absl::Status Close();

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  WritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  const std::string path_;
  int fd_;
  uint64_t size_;
};

// A file read at arbitrary offsets with pread. ReadAt is thread-safe.
class RandomAccessFile {
 public:
  static absl::StatusOr<std::unique_ptr<RandomAccessFile>> Open(
      const std::string& path);
  ~RandomAccessFile();
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;

  // Fills `dst` from `offset`; DATA_LOSS when the file ends first.
  absl::Status ReadAt(uint64_t offset, absl::Span<char> dst) const;
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  RandomAccessFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  const std::string path_;
  const int fd_;
  const uint64_t size_;
};

// A whole file mapped read-only; contents() stays valid for the object's
// lifetime. The file must not shrink meanwhile (reads past its new end would
// raise SIGBUS).
class MappedFile {
 public:
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(
      const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  absl::string_view contents() const { return {data_, size_}; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}

  const char* const data_;  // Null for an empty file.
  const size_t size_;
};

// Writes dir/name so that a reader (or a crash at any point) sees either the
// old file or the complete new one, never a part: `writer` fills
// dir/name.tmp, which is fsynced, renamed over dir/name, and then dir itself
// is fsynced so that the rename survives power loss (what Redis's RDB save
// and etcd's snapshotter do). If `writer` or any step fails, the .tmp file is
// removed, dir/name is untouched and the first error is returned.
absl::Status WriteFileAtomically(
    const std::string& dir, const std::string& name,
    const std::function<absl::Status(WritableFile*)>& writer);
absl::Status WriteFileAtomically(const std::string& dir,
                                 const std::string& name,
                                 absl::string_view contents);

// The names in `dir` (not "." or ".."), sorted; NOT_FOUND if dir is missing.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir);

bool PathExists(const std::string& path);
// mkdir -p. OK when the directory exists already.
absl::Status CreateDirectories(const std::string& path);
// rm -rf. OK when `path` does not exist.
absl::Status RemoveAll(const std::string& path);
absl::Status RenamePath(const std::string& from, const std::string& to);
// fsync of a directory, making creations, renames and removals in it durable.
absl::Status SyncDirectory(const std::string& dir);
std::string JoinPath(absl::string_view dir, absl::string_view name);

}  // namespace paramserver

#endif  // PARAM_SERVER_SERVER_DURABILITY_ENV_H_
