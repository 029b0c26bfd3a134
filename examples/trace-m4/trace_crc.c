/*
 * The CRC helper behind the MNIST_STEP_OUTPUT hook: one "index crc32" line
 * per step, the format `tinyq trace-diff` reads. Bitwise (no table) to keep
 * flash small; speed does not matter when tracing.
 */
#include "trace_crc.h"

uint32_t trace_crc32(const void *data, size_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    for (i = 0; i < n; ++i) {
        int k;
        crc ^= p[i];
        for (k = 0; k < 8; ++k) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
    }
    return ~crc;
}

void trace_step_output(int index, const void *data, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char line[24];
    char rev[12];
    size_t len = 0;
    size_t r = 0;
    uint32_t crc = trace_crc32(data, n);
    unsigned value = (unsigned)index;
    int shift;
    do {
        rev[r++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u && r < sizeof rev);
    while (r > 0) {
        line[len++] = rev[--r];
    }
    line[len++] = ' ';
    for (shift = 28; shift >= 0; shift -= 4) {
        line[len++] = digits[(crc >> shift) & 15u];
    }
    line[len++] = '\n';
    line[len] = '\0';
    trace_puts(line);
}
