#ifndef MILLSTREAM_CRC32C_H
#define MILLSTREAM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli) over `length` bytes. Start with 0; feed the result back to continue.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it, a table-driven loop otherwise.
uint32_t millstream_crc32c(uint32_t crc, const void *bytes, size_t length);

/// The portable path, exposed so tests can check both paths agree.
uint32_t millstream_crc32c_portable(uint32_t crc, const void *bytes, size_t length);

/// 1 when the hardware path is in use.
int millstream_crc32c_hardware(void);

#endif
