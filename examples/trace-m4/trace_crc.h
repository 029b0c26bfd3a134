#ifndef TRACE_CRC_H
#define TRACE_CRC_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32/IEEE (as zlib and `tinyq run --trace` compute it). */
uint32_t trace_crc32(const void *data, size_t n);

/* Prints "index crc32\n" through trace_puts (which the firmware provides). */
void trace_step_output(int index, const void *data, size_t n);

void trace_puts(const char *line);

#endif
