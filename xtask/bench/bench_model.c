/* Timing harness for `cargo xtask bench`: runs the generated model `m`
 * (m.h, m.c) on the inputs in the files named on the command line (one per
 * model input, raw bytes), ROUNDS rounds of a loop long enough to take about
 * ROUND_MS, and prints the median and the least nanoseconds per inference
 * over the rounds and a checksum of the outputs. The build passes the I/O sizes as
 * -DTQ_IN_SIZES={..} -DTQ_OUT_SIZES={..}. */
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "m.h"

static const size_t in_sizes[] = TQ_IN_SIZES;
static const size_t out_sizes[] = TQ_OUT_SIZES;

/* CPU time of this thread: on a shared machine, the time it was preempted
   does not count (TFLM's side measures the same way). */
static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const void *inputs[M_NUM_INPUTS];
    void *outputs[M_NUM_OUTPUTS];
    uint8_t *arena = malloc(M_ARENA_SIZE + 16);
    void *aligned = arena + (16 - ((uintptr_t)arena % 16)) % 16;
    double per_round[256], t0, one;
    long count, k;
    int rounds, r, i;
    double round_ms;
    unsigned checksum = 0;
    if (argc != 3 + M_NUM_INPUTS || arena == NULL) {
        fprintf(stderr, "usage: %s ROUNDS ROUND_MS IN0.bin ..\n", argv[0]);
        return 2;
    }
    rounds = atoi(argv[1]);
    round_ms = atof(argv[2]);
    if (rounds < 1 || rounds > 256) return 2;
    for (i = 0; i < M_NUM_INPUTS; ++i) {
        FILE *f = fopen(argv[3 + i], "rb");
        void *x = malloc(in_sizes[i]);
        if (f == NULL || x == NULL || fread(x, 1, in_sizes[i], f) != in_sizes[i]) return 2;
        fclose(f);
        inputs[i] = x;
    }
    for (i = 0; i < M_NUM_OUTPUTS; ++i) {
        outputs[i] = malloc(out_sizes[i]);
        if (outputs[i] == NULL) return 2;
    }
    if (m_invoke(inputs, outputs, aligned) != 0) return 1;
    t0 = now_ns();
    if (m_invoke(inputs, outputs, aligned) != 0) return 1;
    one = now_ns() - t0;
    count = (long)(round_ms * 1e6 / (one > 1.0 ? one : 1.0));
    if (count < 1) count = 1;
    for (r = 0; r < rounds; ++r) {
        t0 = now_ns();
        for (k = 0; k < count; ++k) {
            if (m_invoke(inputs, outputs, aligned) != 0) return 1;
        }
        per_round[r] = (now_ns() - t0) / (double)count;
    }
    for (i = 0; i < M_NUM_OUTPUTS; ++i) {
        size_t j;
        for (j = 0; j < out_sizes[i]; ++j) checksum = checksum * 31u + ((const uint8_t *)outputs[i])[j];
    }
    qsort(per_round, (size_t)rounds, sizeof per_round[0], compare);
    printf("%.0f %.0f %u\n", per_round[rounds / 2], per_round[0], checksum);
    return 0;
}
