#include "server/pem_check.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace paramserver {
namespace {

using ::testing::HasSubstr;

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string contents(data, size);
  BIO_free(bio);
  return contents;
}

// A P-256 key and a self-signed certificate for it, as PEM text.
struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

KeyAndCertificate Make(const char* common_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  X509_free(cert);
  EVP_PKEY_free(key);
  return {BioContents(key_bio), BioContents(cert_bio)};
}

TEST(PemCheckTest, CertificateWithItsKeyPasses) {
  const KeyAndCertificate server = Make("server");
  EXPECT_TRUE(CheckCertificates(server.cert_pem, "server.crt").ok());
  EXPECT_TRUE(CheckKeyMatchesCertificate(server.key_pem, "server.key",
                                         server.cert_pem, "server.crt")
                  .ok());
}

TEST(PemCheckTest, ChainIsCheckedAgainstItsFirstCertificate) {
  const KeyAndCertificate leaf = Make("leaf"), issuer = Make("issuer");
  const std::string chain = leaf.cert_pem + issuer.cert_pem;
  EXPECT_TRUE(CheckCertificates(chain, "chain.crt").ok());
  EXPECT_TRUE(
      CheckKeyMatchesCertificate(leaf.key_pem, "leaf.key", chain, "chain.crt")
          .ok());
  EXPECT_FALSE(CheckKeyMatchesCertificate(issuer.key_pem, "issuer.key", chain,
                                          "chain.crt")
                   .ok());
}

TEST(PemCheckTest, KeyOfAnotherCertificateIsRefused) {
  const KeyAndCertificate server = Make("server"), other = Make("other");
  const absl::Status status = CheckKeyMatchesCertificate(
      other.key_pem, "other.key", server.cert_pem, "server.crt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      status.message(),
      "other.key is not the private key of the certificate in server.crt.");
}

TEST(PemCheckTest, FilesSwappedOrEmptyAreRefused) {
  const KeyAndCertificate server = Make("server");
  EXPECT_EQ(CheckCertificates(server.key_pem, "server.key").message(),
            "server.key holds no certificate.");
  EXPECT_EQ(CheckCertificates("", "empty.crt").message(),
            "empty.crt holds no certificate.");
  const absl::Status key_status = CheckKeyMatchesCertificate(
      server.cert_pem, "server.crt", server.cert_pem, "server.crt");
  EXPECT_EQ(key_status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(key_status.message(),
              HasSubstr("server.crt holds no readable private key"));
}

TEST(PemCheckTest, DamagedCertificateIsRefused) {
  const KeyAndCertificate first = Make("first"), second = Make("second");
  std::string damaged = second.cert_pem;
  damaged[damaged.size() / 2] = damaged[damaged.size() / 2] == 'A' ? 'B' : 'A';
  damaged.erase(damaged.size() / 2 + 1, 8);  // Breaks the base64 framing too.
  const absl::Status status =
      CheckCertificates(first.cert_pem + damaged, "chain.crt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      status.message(),
      HasSubstr("chain.crt: the certificate after the first 1 cannot be read"));
}

TEST(PemCheckTest, EncryptedKeyIsRefusedWithoutAPrompt) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  char passphrase[] = "secret";
  PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), passphrase,
                                sizeof(passphrase) - 1, nullptr, nullptr);
  EVP_PKEY_free(key);
  const std::string encrypted = BioContents(bio);
  const KeyAndCertificate server = Make("server");
  const absl::Status status = CheckKeyMatchesCertificate(
      encrypted, "server.key", server.cert_pem, "server.crt");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("server.key holds an encrypted private key"));
}

TEST(PemCheckTest, TrustedCertificateFormIsAccepted) {
  // "TRUSTED CERTIFICATE" blocks (openssl x509 -trustout), which gRPC reads.
  const KeyAndCertificate ca = Make("ca");
  BIO* in =
      BIO_new_mem_buf(ca.cert_pem.data(), static_cast<int>(ca.cert_pem.size()));
  X509* cert = PEM_read_bio_X509(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(cert, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_AUX(out, cert);
  X509_free(cert);
  const std::string trusted = BioContents(out);
  ASSERT_THAT(trusted, HasSubstr("BEGIN TRUSTED CERTIFICATE"));
  EXPECT_TRUE(CheckCertificates(trusted, "ca.crt").ok());
}

}  // namespace
}  // namespace paramserver
