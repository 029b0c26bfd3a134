/* Host harness for the generated MNIST C: reads int8 digits (784 bytes
 * each) from the file named on the command line and writes one byte per
 * digit, the predicted class, to stdout. Used by `cargo xtask codegen`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mnist.h"

static uint8_t arena[MNIST_ARENA_SIZE + MNIST_ARENA_ALIGN];

int main(int argc, char **argv) {
    int8_t digit[MNIST_INPUT_0_SIZE];
    int8_t scores[MNIST_OUTPUT_0_SIZE];
    void *aligned = arena + (MNIST_ARENA_ALIGN - ((uintptr_t)arena % MNIST_ARENA_ALIGN)) % MNIST_ARENA_ALIGN;
    FILE *in;
    if (argc != 2 || (in = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: %s DIGITS.bin\n", argv[0]);
        return 2;
    }
    while (fread(digit, 1, sizeof digit, in) == sizeof digit) {
        const void *inputs[1];
        void *outputs[1];
        int best = 0, i;
        inputs[0] = digit;
        outputs[0] = scores;
        if (mnist_invoke(inputs, outputs, aligned) != 0) {
            fprintf(stderr, "mnist_invoke failed\n");
            return 1;
        }
        for (i = 1; i < (int)sizeof scores; i++) {
            if (scores[i] > scores[best]) best = i;
        }
        putchar(best);
    }
    fclose(in);
    return 0;
}
