/*
 * Running a tinyq-generated model from plain C.
 *
 * `make` generates mnist.h and mnist.c from the MNIST fixture with
 * `tinyq compile ... --emit c --name mnist`, then builds this program.
 * Run it as `./mnist_demo [IMAGE]`, where IMAGE holds MNIST_INPUT_0_SIZE
 * raw int8 bytes (a 28x28 digit quantized with MNIST_INPUT_0_SCALE and
 * MNIST_INPUT_0_ZERO_POINT); without it, a synthetic stroke is used.
 *
 * The generated files need only <stdint.h> and <stddef.h>; stdio here is
 * for the demo's own printing.
 */
#include <stdio.h>

#include "mnist.h"

/* Scratch memory for intermediate tensors: static, sized at compile time.
   A union keeps it aligned to MNIST_ARENA_ALIGN (16) in portable C99. */
static union {
    unsigned char bytes[MNIST_ARENA_SIZE];
    long double align;
} arena;

static int8_t image[MNIST_INPUT_0_SIZE];
static int8_t scores[MNIST_OUTPUT_0_SIZE];

static void synthetic_digit(void)
{
    int y;
    int x;
    for (y = 0; y < 28; ++y) {
        for (x = 0; x < 28; ++x) {
            /* A vertical bar, roughly a "1": 1.0 where inked, 0.0 elsewhere. */
            const int inked = x >= 13 && x <= 15 && y >= 4 && y <= 23;
            image[y * 28 + x] = (int8_t)(inked ? 127 : MNIST_INPUT_0_ZERO_POINT);
        }
    }
}

int main(int argc, char **argv)
{
    const void *inputs[MNIST_NUM_INPUTS];
    void *outputs[MNIST_NUM_OUTPUTS];
    int best = 0;
    int i;

    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        if (f == NULL || fread(image, 1, sizeof image, f) != sizeof image) {
            fprintf(stderr, "%s: expected %d raw int8 bytes\n", argv[1], MNIST_INPUT_0_SIZE);
            return 1;
        }
        fclose(f);
    } else {
        synthetic_digit();
    }

    inputs[0] = image;
    outputs[0] = scores;
    if (mnist_invoke(inputs, outputs, arena.bytes) != 0) {
        fprintf(stderr, "mnist_invoke failed\n");
        return 1;
    }

    for (i = 0; i < MNIST_OUTPUT_0_SIZE; ++i) {
        /* Dequantize for display: real = (q - zero_point) * scale. */
        const float p = (float)(scores[i] - MNIST_OUTPUT_0_ZERO_POINT) * MNIST_OUTPUT_0_SCALE;
        printf("digit %d: %4d  (p = %.3f)\n", i, scores[i], (double)p);
        if (scores[i] > scores[best]) {
            best = i;
        }
    }
    printf("prediction: %d\n", best);
    return 0;
}
