#include "server/durability/data_dir_identity.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/random_id.h"
#include "server/durability/env.h"

namespace paramserver {
namespace {

// True when `dir` exists and holds at least one entry.
bool HasEntries(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  return names.ok() && !names->empty();
}

std::string FormatIdentity(const DataDirIdentity& identity) {
  return absl::StrCat(
      "# Whose data this directory holds; checked at every start.\n", "job ",
      identity.place.job, "\n", "shard_index ", identity.place.index, "\n",
      "shard_count ", identity.place.count, "\n", "incarnation ",
      identity.incarnation, "\n", "cluster ", identity.cluster, "\n",
      "written ",
      absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone()),
      "\n");
}

absl::StatusOr<DataDirIdentity> ParseIdentity(absl::string_view text,
                                              const std::string& path) {
  DataDirIdentity identity;
  bool has_index = false, has_count = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<absl::string_view, absl::string_view> field =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    const absl::string_view value = absl::StripAsciiWhitespace(field.second);
    bool ok = true;
    if (field.first == "job") {
      identity.place.job = std::string(value);
    } else if (field.first == "shard_index") {
      ok = has_index = absl::SimpleAtoi(value, &identity.place.index);
    } else if (field.first == "shard_count") {
      ok = has_count = absl::SimpleAtoi(value, &identity.place.count);
    } else if (field.first == "incarnation") {
      identity.incarnation = std::string(value);
    } else if (field.first == "cluster") {
      identity.cluster = std::string(value);
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": cannot read the line '", line, "'."));
    }
  }
  if (!has_index || !has_count || identity.incarnation.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " lacks shard_index, shard_count or incarnation; restore it from a "
        "backup or remove it to re-adopt the directory."));
  }
  if (absl::Status s = ValidateShardPlace(identity.place); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return identity;
}

absl::StatusOr<DataDirIdentity> WriteIdentity(const std::string& data_dir,
                                              const ShardPlace& place) {
  if (absl::Status s = CreateDirectories(data_dir); !s.ok()) return s;
  DataDirIdentity identity{place, NewRandomId(), ""};
  if (absl::Status s = WriteDataDirIdentity(data_dir, identity); !s.ok()) {
    return s;
  }
  return identity;
}

}  // namespace

absl::Status WriteDataDirIdentity(const std::string& data_dir,
                                  const DataDirIdentity& identity) {
  return WriteFileAtomically(data_dir, kIdentityFileName,
                             FormatIdentity(identity));
}

absl::StatusOr<DataDirIdentity> ClaimDataDir(const std::string& data_dir,
                                             const ShardPlace& place,
                                             bool initialize) {
  const std::string path = JoinPath(data_dir, kIdentityFileName);
  if (PathExists(path)) {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) return text.status();
    absl::StatusOr<DataDirIdentity> identity = ParseIdentity(*text, path);
    if (!identity.ok()) return identity.status();
    if (!(identity->place == place)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "The data directory ", data_dir, " holds ",
          identity->place.ToString(), ", but this server was started as ",
          place.ToString(),
          ". Start it with the directory's own --job, --shard_index and "
          "--shard_count, or give it the directory of ",
          place.ToString(), " (shards cannot be renumbered in place)."));
    }
    return identity;
  }
  if (HasEntries(JoinPath(data_dir, "checkpoints")) ||
      HasEntries(JoinPath(data_dir, "wal"))) {
    return WriteIdentity(data_dir, place);
  }
  if (!initialize) {
    return absl::FailedPreconditionError(absl::StrCat(
        "The data directory ", data_dir, " holds no data of ", place.ToString(),
        " (no IDENTITY, checkpoint or log). If this shard served before, "
        "its data is lost: a volume not mounted, a directory removed. "
        "Restore it, or start with --initialize_data_dir to begin this "
        "shard with no variables (as on its first start)."));
  }
  return WriteIdentity(data_dir, place);
}

}  // namespace paramserver
