// SHA-256 (FIPS 180-4) of bytes or a file, as 64 lowercase hex digits: the provenance
// hashes of stats.json (graph, device and config files).
#pragma once
#include <string>

namespace masesim {

std::string sha256_hex(const std::string& bytes);
/// The hash of a file's contents; InputError naming the file when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace masesim
