// The compression libraries Kafka record batches use: zlib (gzip), LZ4 frames, Zstandard, Snappy.
// Debian: zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev (installed by scripts/bootstrap).
#include <zlib.h>
#include <lz4frame.h>
#include <zstd.h>
#include <snappy-c.h>
