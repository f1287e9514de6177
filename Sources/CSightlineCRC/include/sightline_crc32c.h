#ifndef SIGHTLINE_CRC32C_H
#define SIGHTLINE_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli) over `length` bytes. Start with crc = 0.
/// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
uint32_t sightline_crc32c_extend(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use (for tests and `sightline` diagnostics).
int sightline_crc32c_is_hardware(void);

#endif
