/* Timing harness for `cargo xtask bench`: runs the generated MNIST model on
 * the int8 digits in the file named on the command line, ROUNDS times over
 * all of them, and prints the median nanoseconds per inference. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mnist.h"

#define ROUNDS 7
#define MAX_DIGITS 256

static uint8_t arena[MNIST_ARENA_SIZE + MNIST_ARENA_ALIGN];
static int8_t digits[MAX_DIGITS][MNIST_INPUT_0_SIZE];

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int8_t scores[MNIST_OUTPUT_0_SIZE];
    void *aligned = arena + (MNIST_ARENA_ALIGN - ((uintptr_t)arena % MNIST_ARENA_ALIGN)) % MNIST_ARENA_ALIGN;
    double per_round[ROUNDS];
    size_t n = 0;
    int r;
    unsigned checksum = 0;
    FILE *in;
    if (argc != 2 || (in = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: %s DIGITS.bin\n", argv[0]);
        return 2;
    }
    while (n < MAX_DIGITS && fread(digits[n], 1, sizeof digits[n], in) == sizeof digits[n]) n++;
    fclose(in);
    if (n == 0) return 2;
    for (r = 0; r < ROUNDS; r++) {
        struct timespec t0, t1;
        size_t i;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (i = 0; i < n; i++) {
            const void *inputs[1];
            void *outputs[1];
            inputs[0] = digits[i];
            outputs[0] = scores;
            if (mnist_invoke(inputs, outputs, aligned) != 0) return 1;
            checksum += (unsigned)(uint8_t)scores[0];
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        per_round[r] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
    }
    qsort(per_round, ROUNDS, sizeof per_round[0], compare);
    printf("%.0f %u\n", per_round[ROUNDS / 2], checksum);
    return 0;
}
