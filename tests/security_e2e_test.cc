// TLS, mutual TLS, tokens and the plaintext policy against the real server,
// with certificates made by deploy/gen_test_certs.sh.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/client.h"
#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server_process.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

constexpr char kTokens[] =
    "# token role [prefixes]\n"
    "reader-token reader\n"
    "writer-token writer\n"
    "admin-token admin\n"
    "tower0-token writer tower0\n";

class SecurityE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(std::string(std::getenv("TEST_TMPDIR")) + "/certs");
    const CommandResult generated =
        RunCommand({"/bin/bash", "deploy/gen_test_certs.sh", *dir_});
    ASSERT_EQ(generated.exit_code, 0) << generated.out << generated.err;
    std::ofstream(Path("tokens")) << kTokens;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string Path(const std::string& file) {
    return *dir_ + "/" + file;
  }
  static std::string Pem(const std::string& file) {
    absl::StatusOr<std::string> pem = ReadFile(Path(file));
    EXPECT_TRUE(pem.ok()) << pem.status();
    return pem.ok() ? *pem : "";
  }

  static std::vector<std::string> TlsFlags() {
    return {"--tls_cert=" + Path("server.crt"),
            "--tls_key=" + Path("server.key")};
  }
  static std::vector<std::string> MutualTlsFlags() {
    std::vector<std::string> flags = TlsFlags();
    flags.push_back("--tls_client_ca=" + Path("ca.crt"));
    return flags;
  }
  static std::vector<std::string> TokenFlags() {
    std::vector<std::string> flags = TlsFlags();
    flags.push_back("--tokens_file=" + Path("tokens"));
    return flags;
  }
  static std::vector<std::string> MutualTlsTokenFlags() {
    std::vector<std::string> flags = MutualTlsFlags();
    flags.push_back("--tokens_file=" + Path("tokens"));
    return flags;
  }
  // `command` followed by the flags psctl and the training worker take for
  // mutual TLS with the test client's certificate.
  static std::vector<std::string> WithClientTlsFlags(
      std::vector<std::string> command) {
    command.insert(command.end(), {"--tls_ca=" + Path("ca.crt"),
                                   "--tls_cert=" + Path("client.crt"),
                                   "--tls_key=" + Path("client.key")});
    return command;
  }

  // A TLS client trusting the test CA; `cert` ("client", "other_client" or
  // "" for none) is presented for mutual TLS.
  static ClientOptions TlsClient(const std::string& cert = "",
                                 const std::string& token = "") {
    ClientOptions options;
    options.timeout = absl::Seconds(10);
    options.tls = ClientTlsOptions{Pem("ca.crt"), "", ""};
    if (!cert.empty()) {
      options.tls->cert_chain = Pem(cert + ".crt");
      options.tls->private_key = Pem(cert + ".key");
    }
    options.token = token;
    return options;
  }

  static std::unique_ptr<ParameterServerClient> Connect(
      const ServerProcess& server, const ClientOptions& options) {
    auto client = ParameterServerClient::Connect(server.target(), options);
    EXPECT_TRUE(client.ok()) << client.status();
    return *std::move(client);
  }

  static VariableRequest Zeros(const std::string& scope,
                               const std::string& name,
                               ReuseMode reuse = ReuseMode::kAutoReuse) {
    VariableRequest request;
    request.scope = scope;
    request.name = name;
    request.reuse = reuse;
    request.shape = TensorShape{4};
    request.initializer.kind = InitializerKind::kZeros;
    return request;
  }

  static inline std::string* dir_ = nullptr;
};

const std::string kFourFloats(16, '\0');

PushSpec AddTo(const std::string& name, absl::string_view value = kFourFloats) {
  PushSpec push;
  push.updates = {{name, UpdateKind::kAssignAdd, value, std::nullopt}};
  return push;
}

// Adds 1 to element 2 of `name` (a row of a rank-1 variable), by PushRows.
RowUpdateSpec AddToRow(const std::string& name) {
  static const int64_t kIds[] = {2};
  static const float kOne = 1;
  RowUpdateSpec push;
  push.name = name;
  push.kind = UpdateKind::kAssignAdd;
  push.ids = kIds;
  push.rows = absl::string_view(reinterpret_cast<const char*>(&kOne), 4);
  return push;
}

TEST_F(SecurityE2ETest, TlsClientTalksToTlsServer) {
  auto server = ServerProcess::Start(TlsFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = Connect(**server, TlsClient());
  auto created = client->GetVariable(Zeros("tls", "w"), true);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  ASSERT_TRUE(client->Push(AddTo("tls/w")).ok());
  auto pulled = client->Pull({{"tls/w", 0}});
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ((*pulled)[0].info.version, 2);
}

TEST_F(SecurityE2ETest, PlaintextClientCannotTalkToTlsServer) {
  auto server = ServerProcess::Start(TlsFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  ClientOptions plaintext;
  plaintext.timeout = absl::Seconds(5);
  auto status = Connect(**server, plaintext)->ListVariables("").status();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST_F(SecurityE2ETest, TlsClientCannotTalkToPlaintextServer) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto status = Connect(**server, TlsClient())->ListVariables("").status();
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
}

TEST_F(SecurityE2ETest, MutualTlsNeedsAClientCertificateFromTheTrustedCa) {
  auto server = ServerProcess::Start(MutualTlsFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  auto without = Connect(**server, TlsClient())->ListVariables("").status();
  EXPECT_TRUE(absl::IsUnavailable(without)) << without;
  auto untrusted =
      Connect(**server, TlsClient("other_client"))->ListVariables("").status();
  EXPECT_TRUE(absl::IsUnavailable(untrusted)) << untrusted;
  auto trusted = Connect(**server, TlsClient("client"))->ListVariables("");
  EXPECT_TRUE(trusted.ok()) << trusted.status();
}

TEST_F(SecurityE2ETest, MissingOrUnknownTokenIsUnauthenticated) {
  auto server = ServerProcess::Start(TokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  for (const std::string token : {"", "not-a-token", "reader-token2"}) {
    auto client = Connect(**server, TlsClient("", token));
    auto listed = client->ListVariables("").status();
    EXPECT_TRUE(absl::IsUnauthenticated(listed)) << token << ": " << listed;
    auto created = client->GetVariable(Zeros("a", "w")).status();
    EXPECT_TRUE(absl::IsUnauthenticated(created)) << token << ": " << created;
    auto pulled = client->Pull({{"a/w", 0}}).status();
    EXPECT_TRUE(absl::IsUnauthenticated(pulled)) << token << ": " << pulled;
  }
  EXPECT_THAT((*server)->Log(), ::testing::Not(HasSubstr("reader-token")));
}

TEST_F(SecurityE2ETest, ReaderReadsButCannotCreateOrPush) {
  auto server = ServerProcess::Start(TokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  auto writer = Connect(**server, TlsClient("", "writer-token"));
  ASSERT_TRUE(writer->GetVariable(Zeros("m", "w")).ok());
  auto reader = Connect(**server, TlsClient("", "reader-token"));
  EXPECT_TRUE(reader->Pull({{"m/w", 0}}).ok());
  EXPECT_TRUE(reader->ReadVariable("m/w").ok());
  EXPECT_TRUE(reader->ListVariables("").ok());
  EXPECT_TRUE(reader->GetVariable(Zeros("m", "w", ReuseMode::kReuse)).ok());

  auto created =
      reader->GetVariable(Zeros("m", "w", ReuseMode::kAutoReuse)).status();
  EXPECT_TRUE(absl::IsPermissionDenied(created)) << created;
  EXPECT_THAT(created.message(), HasSubstr("writer"));
  auto pushed = reader->Push(AddTo("m/w")).status();
  EXPECT_TRUE(absl::IsPermissionDenied(pushed)) << pushed;
  EXPECT_THAT(pushed.message(), HasSubstr("writer"));
  // Over the inline limit, so it streams (PushChunks).
  const std::string big(ParameterServerClient::kInlineBytes + 16, '\0');
  auto streamed = reader->Push(AddTo("m/w", big)).status();
  EXPECT_TRUE(absl::IsPermissionDenied(streamed)) << streamed;
  auto rows = reader->PushRows(AddToRow("m/w")).status();
  EXPECT_TRUE(absl::IsPermissionDenied(rows)) << rows;
  EXPECT_THAT(rows.message(), HasSubstr("writer"));
}

TEST_F(SecurityE2ETest, WriterPushesButCannotDeleteOrSave) {
  auto server = ServerProcess::Start(TokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  auto writer = Connect(**server, TlsClient("", "writer-token"));
  ASSERT_TRUE(writer->GetVariable(Zeros("m", "w")).ok());
  EXPECT_TRUE(writer->Push(AddTo("m/w")).ok());
  auto deleted = writer->DeleteVariable("m/w").status();
  EXPECT_TRUE(absl::IsPermissionDenied(deleted)) << deleted;
  EXPECT_THAT(deleted.message(), HasSubstr("admin"));

  const std::vector<std::string> psctl = {
      PsctlBinary(), "--server=" + (*server)->target(),
      "--tls_ca=" + Path("ca.crt"), "--token=writer-token", "save"};
  const CommandResult save = RunCommand(psctl);
  EXPECT_EQ(save.exit_code, 1);
  EXPECT_THAT(save.err, HasSubstr("PERMISSION_DENIED"));

  auto admin = Connect(**server, TlsClient("", "admin-token"));
  auto by_admin = admin->DeleteVariable("m/w");
  ASSERT_TRUE(by_admin.ok()) << by_admin.status();
  EXPECT_THAT(*by_admin, ::testing::ElementsAre("m/w"));
}

TEST_F(SecurityE2ETest, PrefixTokenStaysInsideItsScope) {
  auto server = ServerProcess::Start(TokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  auto admin = Connect(**server, TlsClient("", "admin-token"));
  ASSERT_TRUE(admin->GetVariable(Zeros("tower1", "w")).ok());
  auto tower0 = Connect(**server, TlsClient("", "tower0-token"));
  ASSERT_TRUE(tower0->GetVariable(Zeros("tower0", "w")).ok());
  EXPECT_TRUE(tower0->Push(AddTo("tower0/w")).ok());
  EXPECT_TRUE(tower0->Pull({{"tower0/w", 0}}).ok());
  EXPECT_TRUE(tower0->ListVariables("tower0").ok());
  EXPECT_TRUE(tower0->GatherRows("tower0/w", {3, 0}).ok());
  EXPECT_TRUE(tower0->PushRows(AddToRow("tower0/w")).ok());
  static const int64_t kIds[] = {1, 2};
  static const int64_t kOneBag[] = {0};
  const BagSpec one_bag{kOneBag, {}, Combiner::kSum};
  EXPECT_TRUE(tower0->LookupSparse("tower0/w", kIds, one_bag).ok());

  for (const absl::Status& status :
       {tower0->GetVariable(Zeros("tower1", "v")).status(),
        tower0->GetVariable(Zeros("tower01", "v")).status(),
        tower0->Push(AddTo("tower1/w")).status(),
        tower0->Pull({{"tower0/w", 0}, {"tower1/w", 0}}).status(),
        tower0->ReadVariable("tower1/w").status(),
        tower0->GatherRows("tower1/w", {0}).status(),
        tower0->PushRows(AddToRow("tower1/w")).status(),
        tower0->LookupSparse("tower1/w", kIds, one_bag).status(),
        tower0->ListVariables("").status()}) {
    EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("tower0"));
  }
}

TEST_F(SecurityE2ETest, PlaintextOnAnyAddressIsRefusedWithoutInsecure) {
  auto refused = ServerProcess::Start({"--address=0.0.0.0"});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("without TLS"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--insecure"));

  auto insecure = ServerProcess::Start({"--address=0.0.0.0", "--insecure"});
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  std::vector<std::string> tls = TlsFlags();
  tls.push_back("--address=0.0.0.0");
  auto with_tls = ServerProcess::Start(tls);
  ASSERT_TRUE(with_tls.ok()) << with_tls.status();
}

TEST_F(SecurityE2ETest, PsctlSpeaksMutualTlsWithAToken) {
  auto server = ServerProcess::Start(MutualTlsTokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<std::string> base =
      WithClientTlsFlags({PsctlBinary(), "--server=" + (*server)->target()});
  std::vector<std::string> get = base;
  get.insert(get.end(), {"--token=writer-token", "get", "--scope=p", "--name=w",
                         "--shape=3"});
  const CommandResult created = RunCommand(get);
  EXPECT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.out, HasSubstr("\"created\":true"));
  std::vector<std::string> no_token = base;
  no_token.push_back("list");
  const CommandResult listed = RunCommand(no_token);
  EXPECT_EQ(listed.exit_code, 1);
  EXPECT_THAT(listed.err, HasSubstr("UNAUTHENTICATED"));
}

TEST_F(SecurityE2ETest, TrainingWorkerSpeaksMutualTlsWithAToken) {
  auto server = ServerProcess::Start(MutualTlsTokenFlags());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<std::string> worker = WithClientTlsFlags(
      {"examples/train_image_filter", "--servers=" + (*server)->target(),
       "--steps=3", "--size=8", "--retry_seconds=0"});
  std::vector<std::string> with_token = worker;
  with_token.push_back("--token=writer-token");
  const CommandResult trained = RunCommand(with_token);
  EXPECT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_THAT(trained.out, HasSubstr("evaluation loss after training"));
  std::vector<std::string> reader = worker;
  reader.push_back("--token=reader-token");
  const CommandResult refused = RunCommand(reader);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("PERMISSION_DENIED"));
}

TEST_F(SecurityE2ETest, RotatedCertificateIsServedWithoutARestart) {
  // A second, unrelated set of certificates (its own CA) replaces the
  // server's files while it runs.
  // The server reads live/server.{crt,key}; live is a symlink switched in
  // one rename, so certificate and key change together.
  const std::string rotated = *dir_ + "_rotated", live = *dir_ + "_live";
  ASSERT_EQ(
      RunCommand({"/bin/bash", "deploy/gen_test_certs.sh", rotated}).exit_code,
      0);
  auto point_live_at = [&](const std::string& target) {
    ASSERT_EQ(RunCommand({"/bin/ln", "-sfn", target, live + ".new"}).exit_code,
              0);
    ASSERT_EQ(RunCommand({"/bin/mv", "-T", live + ".new", live}).exit_code, 0);
  };
  point_live_at(*dir_);
  auto server = ServerProcess::Start({"--tls_cert=" + live + "/server.crt",
                                      "--tls_key=" + live + "/server.key",
                                      "--tls_reload_seconds=1"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto trusts = [&](const std::string& ca_dir) {
    ClientOptions options;
    options.timeout = absl::Seconds(5);
    absl::StatusOr<std::string> ca = ReadFile(ca_dir + "/ca.crt");
    EXPECT_TRUE(ca.ok());
    options.tls = ClientTlsOptions{ca.ok() ? *ca : "", "", ""};
    auto client = ParameterServerClient::Connect((*server)->target(), options);
    return client.ok() && (*client)->ListVariables("").ok();
  };
  EXPECT_TRUE(trusts(*dir_));
  EXPECT_FALSE(trusts(rotated));
  point_live_at(rotated);
  bool rotated_served = false;
  for (int i = 0; i < 60 && !rotated_served; ++i) {
    absl::SleepFor(absl::Milliseconds(250));
    rotated_served = trusts(rotated);
  }
  EXPECT_TRUE(rotated_served) << (*server)->Log();
  EXPECT_FALSE(trusts(*dir_));
  EXPECT_THAT((*server)->Log(), HasSubstr("certificates re-read every 1 s"));
}

TEST_F(SecurityE2ETest, EmptyClientCaFileStopsStartUp) {
  // An empty CA file must not quietly turn mutual TLS off.
  std::ofstream(Path("empty_ca.crt")).flush();
  const CommandResult started = RunCommand(
      {ServerBinary(), "--port=0", "--tls_cert=" + Path("server.crt"),
       "--tls_key=" + Path("server.key"),
       "--tls_client_ca=" + Path("empty_ca.crt")});
  EXPECT_EQ(started.exit_code, 2);  // A configuration error, as a bad flag.
  EXPECT_THAT(started.err, HasSubstr("empty_ca.crt holds no certificate."));
}

TEST_F(SecurityE2ETest, KeyOfAnotherCertificateStopsStartUp) {
  for (const std::string reload : {"0", "1"}) {
    const CommandResult started = RunCommand(
        {ServerBinary(), "--port=0", "--tls_cert=" + Path("server.crt"),
         "--tls_key=" + Path("client.key"), "--tls_reload_seconds=" + reload});
    EXPECT_EQ(started.exit_code, 2) << reload;
    EXPECT_THAT(
        started.err,
        HasSubstr("client.key is not the private key of the certificate in " +
                  Path("server.crt")))
        << reload;
  }
}

}  // namespace
}  // namespace paramserver
