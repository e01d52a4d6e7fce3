// SHA-256 of bytes and files (OpenSSL's libcrypto), as lowercase hex. Used by
// manifests so every output file can be verified.
#ifndef SDFT_COMMON_SHA256_H_
#define SDFT_COMMON_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sdft {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(std::string_view data);
  std::string HexDigest();  // Finishes; call once.

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Hex(std::string_view data);
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace sdft

#endif  // SDFT_COMMON_SHA256_H_
