/*
 * MNIST on a Cortex-M4 with tinyq-generated C.
 *
 * Runs the model on each sample and prints its output bytes in hex, one
 * line per sample, over semihosting. The samples come from SAMPLES_HEADER
 * when defined (the tests pass the fixture's 16 digits), else one
 * synthetic digit.
 */
#include <stddef.h>
#include <stdint.h>

#include "mnist.h"
#include "semihost.h"

#ifdef SAMPLES_HEADER
#include SAMPLES_HEADER /* defines NUM_SAMPLES and samples[][MNIST_INPUT_0_SIZE] */
#else
#define NUM_SAMPLES 1
static int8_t samples[NUM_SAMPLES][MNIST_INPUT_0_SIZE];
#endif

/* The arena in .bss, aligned to MNIST_ARENA_ALIGN. */
static union {
    uint8_t bytes[MNIST_ARENA_SIZE];
    uint64_t align[2];
} arena;

static int8_t scores[MNIST_OUTPUT_0_SIZE];

static void put_hex_line(const int8_t *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char line[2 * MNIST_OUTPUT_0_SIZE + 2];
    size_t i;
    for (i = 0; i < n; ++i) {
        const uint8_t b = (uint8_t)bytes[i];
        line[2 * i] = digits[b >> 4];
        line[2 * i + 1] = digits[b & 15u];
    }
    line[2 * n] = '\n';
    line[2 * n + 1] = '\0';
    semihost_puts(line);
}

int main(void)
{
    size_t s;
#ifndef SAMPLES_HEADER
    size_t y;
    for (y = 0; y < 28; ++y) {
        size_t x;
        for (x = 0; x < 28; ++x) {
            /* A vertical bar, roughly a "1" (as examples/c draws it). */
            const int inked = x >= 13 && x <= 15 && y >= 4 && y <= 23;
            samples[0][y * 28 + x] = (int8_t)(inked ? 127 : MNIST_INPUT_0_ZERO_POINT);
        }
    }
#endif
    for (s = 0; s < NUM_SAMPLES; ++s) {
        const void *inputs[MNIST_NUM_INPUTS];
        void *outputs[MNIST_NUM_OUTPUTS];
        inputs[0] = samples[s];
        outputs[0] = scores;
        if (mnist_invoke(inputs, outputs, arena.bytes) != 0) {
            semihost_puts("mnist_invoke failed\n");
            return 1;
        }
        put_hex_line(scores, MNIST_OUTPUT_0_SIZE);
    }
    semihost_puts("done\n");
    return 0;
}
