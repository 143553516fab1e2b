#ifndef PARAM_SERVER_COMMON_FILE_SIZE_LIMIT_FOR_TEST_H_
#define PARAM_SERVER_COMMON_FILE_SIZE_LIMIT_FOR_TEST_H_

#include <signal.h>
#include <sys/resource.h>

#include "gtest/gtest.h"

namespace paramserver {

// Caps the size of any file this process writes (RLIMIT_FSIZE) while in
// scope, so a write past it fails with EFBIG, the way a full disk fails with
// ENOSPC. Tests only; not thread-safe (the limit is per process).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);  // Else the kernel kills us instead of EFBIG.
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }

  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_;
};

}  // namespace paramserver

#endif  // PARAM_SERVER_COMMON_FILE_SIZE_LIMIT_FOR_TEST_H_
