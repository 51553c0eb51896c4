#ifndef MILLSTREAM_SQLITE_SEAL_H
#define MILLSTREAM_SQLITE_SEAL_H

#include <stdint.h>

// A SQLite VFS that encrypts database and WAL pages at rest (used by the historian, docs/encryption.md). Each page of
// MILLSTREAM_SEAL_PAGE bytes keeps its last MILLSTREAM_SEAL_TRAILER bytes (SQLite's reserved space) for the key id,
// nonce and tag; the rest is sealed by the callbacks (AES-256-GCM in Swift), with the page's position in its file as
// authenticated data. Headers (the WAL's and its frames') stay in clear; the shared-memory index holds no data.

#define MILLSTREAM_SEAL_PAGE 4096
#define MILLSTREAM_SEAL_TRAILER 32

// Seals n bytes of plain at `position` of the database `path` (its WAL when `wal`) into out (n bytes) and trailer;
// 0 on success.
typedef int (*millstream_seal_fn)(const char *path, int wal, const uint8_t *plain, int n, int64_t position,
                                  uint8_t *out, uint8_t *trailer);
// Opens what seal made; 0 on success, else nonzero (no such key, or the data was altered).
typedef int (*millstream_open_fn)(const char *path, int wal, const uint8_t *sealed, int n, int64_t position,
                                  const uint8_t *trailer, uint8_t *out);

// Registers the VFS "millstream-sealed" as the default, wrapping the current default. Idempotent.
int millstream_seal_register(millstream_seal_fn seal, millstream_open_fn open);

// Marks the database at `path` (and its WAL) as sealed: files opened at that path are encrypted.
void millstream_seal_path(const char *path);

// Reserves the trailer's bytes in every page of a new database (before its first write); `db` is a sqlite3 *.
int millstream_seal_reserve(void *db);

// The last error a sealed read or write met (for messages), or an empty string.
const char *millstream_seal_last_error(void);

#endif
