/*
 * MNIST on a Cortex-M4, traced: prints "index crc32" for every step of one
 * inference (from the MNIST_STEP_OUTPUT hook), then "done". Compare with
 * the host: `tinyq run MODEL --input X.npy --trace trace.json` on the same
 * sample, then `tinyq trace-diff trace.json device.txt`.
 *
 * The sample comes from SAMPLES_HEADER when defined (the test passes the
 * fixture's first digit), else a synthetic one.
 */
#include <stddef.h>
#include <stdint.h>

#include "mnist.h"
#include "semihost.h"
#include "trace_crc.h"

#ifdef SAMPLES_HEADER
#include SAMPLES_HEADER /* defines NUM_SAMPLES and samples[][MNIST_INPUT_0_SIZE] */
#else
#define NUM_SAMPLES 1
static int8_t samples[NUM_SAMPLES][MNIST_INPUT_0_SIZE];
#endif

static union {
    uint8_t bytes[MNIST_ARENA_SIZE];
    uint64_t align[2];
} arena;

static int8_t scores[MNIST_OUTPUT_0_SIZE];

void trace_puts(const char *line)
{
    semihost_puts(line);
}

int main(void)
{
    const void *inputs[MNIST_NUM_INPUTS];
    void *outputs[MNIST_NUM_OUTPUTS];
#ifndef SAMPLES_HEADER
    size_t y;
    for (y = 0; y < 28; ++y) {
        size_t x;
        for (x = 0; x < 28; ++x) {
            const int inked = x >= 13 && x <= 15 && y >= 4 && y <= 23;
            samples[0][y * 28 + x] = (int8_t)(inked ? 127 : MNIST_INPUT_0_ZERO_POINT);
        }
    }
#endif
    inputs[0] = samples[0];
    outputs[0] = scores;
    if (mnist_invoke(inputs, outputs, arena.bytes) != 0) {
        semihost_puts("mnist_invoke failed\n");
        return 1;
    }
    semihost_puts("done\n");
    return 0;
}
