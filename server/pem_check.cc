#include "server/pem_check.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace paramserver {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

// A read-only BIO over `pem`, the file called `name`.
absl::StatusOr<BioPtr> OpenPem(absl::string_view pem, absl::string_view name) {
  if (pem.size() > static_cast<size_t>(INT32_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat(name, " is too large."));
  }
  // BIO_new_mem_buf wants a non-null buffer, even for no bytes.
  static const char kEmpty[] = "";
  BioPtr bio(BIO_new_mem_buf(pem.empty() ? kEmpty : pem.data(),
                             static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("Out of memory.");
  return bio;
}

// Reads the next certificate, plain ("CERTIFICATE") or with trust settings
// ("TRUSTED CERTIFICATE"), as gRPC reads certificate files.
X509Ptr ReadCertificate(BIO* bio) {
  return X509Ptr(PEM_read_bio_X509_AUX(bio, nullptr, nullptr, nullptr));
}

// OpenSSL's reason for the last failure, and the thread's error queue
// emptied, so later calls start clean.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : "unreadable PEM";
  ERR_clear_error();
  return text;
}

bool IsEndOfInput() {
  const unsigned long code = ERR_peek_last_error();
  return ERR_GET_LIB(code) == ERR_LIB_PEM &&
         ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
}

}  // namespace

absl::Status CheckCertificates(absl::string_view pem, absl::string_view name) {
  absl::StatusOr<BioPtr> bio = OpenPem(pem, name);
  if (!bio.ok()) return bio.status();
  int count = 0;
  while (ReadCertificate(bio->get()) != nullptr) ++count;
  // Reading stops at the end of the input (no further BEGIN line) or at a
  // certificate block that does not parse. Other blocks are skipped.
  if (!IsEndOfInput()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": the certificate after the first ", count,
                     " cannot be read (", OpenSslReason(), ")."));
  }
  ERR_clear_error();
  if (count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " holds no certificate."));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem,
                                        absl::string_view key_name,
                                        absl::string_view cert_pem,
                                        absl::string_view cert_name) {
  if (absl::Status s = CheckCertificates(cert_pem, cert_name); !s.ok())
    return s;
  absl::StatusOr<BioPtr> key_bio = OpenPem(key_pem, key_name);
  if (!key_bio.ok()) return key_bio.status();
  // An empty passphrase rather than none: with none, OpenSSL would prompt on
  // the terminal for an encrypted key and block start-up.
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr,
                                     const_cast<char*>("")));
  if (key == nullptr) {
    if (absl::StrContains(key_pem, "ENCRYPTED")) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat(key_name,
                       " holds an encrypted private key; the server needs it "
                       "unencrypted (protect the file instead)."));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        key_name, " holds no readable private key (", OpenSslReason(), ")."));
  }
  absl::StatusOr<BioPtr> cert_bio = OpenPem(cert_pem, cert_name);
  if (!cert_bio.ok()) return cert_bio.status();
  X509Ptr cert = ReadCertificate(cert_bio->get());
  if (cert == nullptr || X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(key_name, " is not the private key of the certificate in ",
                     cert_name, "."));
  }
  return absl::OkStatus();
}

}  // namespace paramserver
