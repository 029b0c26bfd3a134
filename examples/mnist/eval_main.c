/* Host harness for the generated MNIST C: reads digits in the model's input
 * type (NAME_INPUT_0_SIZE bytes each) from the file named on the command
 * line and writes each digit's scores (NAME_OUTPUT_0_SIZE bytes, the
 * model's output type) to stdout. Built by `cargo xtask codegen` once per
 * model, with -DMODEL_HEADER='"mnist.h"' -DMODEL_INVOKE=mnist_invoke
 * -DMODEL_UPPER=MNIST (or another model's names). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include MODEL_HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define ARENA_SIZE CAT(MODEL_UPPER, _ARENA_SIZE)
#define ARENA_ALIGN CAT(MODEL_UPPER, _ARENA_ALIGN)
#define INPUT_SIZE CAT(MODEL_UPPER, _INPUT_0_SIZE)
#define OUTPUT_SIZE CAT(MODEL_UPPER, _OUTPUT_0_SIZE)

static uint8_t arena[ARENA_SIZE + ARENA_ALIGN];
static uint8_t digit[INPUT_SIZE];
static uint8_t scores[OUTPUT_SIZE];

int main(int argc, char **argv) {
    void *aligned = arena + (ARENA_ALIGN - ((uintptr_t)arena % ARENA_ALIGN)) % ARENA_ALIGN;
    FILE *in;
    if (argc != 2 || (in = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: %s DIGITS.bin\n", argv[0]);
        return 2;
    }
    while (fread(digit, 1, sizeof digit, in) == sizeof digit) {
        const void *inputs[1];
        void *outputs[1];
        inputs[0] = digit;
        outputs[0] = scores;
        if (MODEL_INVOKE(inputs, outputs, aligned) != 0) {
            fprintf(stderr, "invoke failed\n");
            return 1;
        }
        fwrite(scores, 1, sizeof scores, stdout);
    }
    fclose(in);
    return 0;
}
