/*
 * Streaming keyword spotting on a Cortex-M4 with tinyq-generated C.
 *
 * The keyword model takes one frame of 40 features (20 ms of audio) per
 * invoke. What it remembers of the frames before (its two SVDF layers'
 * histories) lives in the first KWS_STATE_SIZE bytes of its arena, which
 * persist from one kws_invoke() to the next; kws_reset() clears them, as
 * TFLM's MicroInterpreter::Reset() does. So a device calls kws_invoke() once
 * per new frame, and kws_reset() when a new utterance (or stream) starts.
 *
 * This demo feeds the frames of features.h as two utterances: the frames
 * once, kws_reset(), the same frames again (the scores repeat, byte for
 * byte). Each frame prints one line over semihosting:
 *
 *     utt 0 frame 07 scores 9a81e2c3
 *
 * the four int8 scores in hex (the softmax; real value (q + 128) / 256).
 * Built with -DKWS_COUNT_INSTRUCTIONS and run under qemu -icount shift=0,
 * the line ends with the instructions kws_invoke() took.
 */
#include <stddef.h>
#include <stdint.h>

#include "kws.h"
#include "features.h" /* FEATURE_FRAMES and features[][KWS_INPUT_0_SIZE] */
#include "semihost.h"

#define NUM_UTTERANCES 2

/* The arena: persistent state first, then scratch. Static, aligned. */
static union {
    uint8_t bytes[KWS_ARENA_SIZE];
    uint64_t align[2];
} kws_arena;

#ifdef KWS_COUNT_INSTRUCTIONS
/* CMSDK TIMER0 counts down at 25 MHz; under qemu -icount shift=0 each
   instruction is 1 ns, so one tick is 40 instructions. */
#define TIMER0 ((volatile uint32_t *)0x40000000u) /* CTRL, VALUE, RELOAD */
static void timer_start(void)
{
    TIMER0[0] = 0u;
    TIMER0[2] = 0xffffffffu;
    TIMER0[1] = 0xffffffffu;
    TIMER0[0] = 1u;
}
static uint32_t timer_now(void) { return TIMER0[1]; }
#endif

/* Appends the decimal digits of v at p; returns the end. */
static char *put_uint(char *p, uint32_t v)
{
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + (char)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        *p++ = digits[--n];
    }
    return p;
}

static char *put_text(char *p, const char *s)
{
    while (*s != '\0') {
        *p++ = *s++;
    }
    return p;
}

static char *put_hex(char *p, const int8_t *bytes, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; ++i) {
        const uint8_t b = (uint8_t)bytes[i];
        *p++ = hex[b >> 4];
        *p++ = hex[b & 15u];
    }
    return p;
}

/* One 20 ms step: the new frame's features in, the keyword scores out. */
static int kws_step(const int8_t *frame_features, int8_t *scores, uint32_t *instructions)
{
    const void *inputs[KWS_NUM_INPUTS];
    void *outputs[KWS_NUM_OUTPUTS];
    int status;
#ifdef KWS_COUNT_INSTRUCTIONS
    uint32_t start;
    timer_start();
    start = timer_now();
#endif
    inputs[0] = frame_features;
    outputs[0] = scores;
    status = kws_invoke(inputs, outputs, kws_arena.bytes);
#ifdef KWS_COUNT_INSTRUCTIONS
    *instructions = (start - timer_now()) * 40u;
#else
    *instructions = 0u;
#endif
    return status;
}

int main(void)
{
    unsigned utt;
    for (utt = 0; utt < NUM_UTTERANCES; ++utt) {
        size_t frame;
        /* A new utterance: forget the previous one's frames. */
        kws_reset(kws_arena.bytes);
        for (frame = 0; frame < FEATURE_FRAMES; ++frame) {
            int8_t scores[KWS_OUTPUT_0_SIZE];
            uint32_t instructions;
            char line[96];
            char *p = line;
            if (kws_step(features[frame], scores, &instructions) != 0) {
                semihost_puts("kws_invoke failed\n");
                return 1;
            }
            p = put_text(p, "utt ");
            p = put_uint(p, utt);
            p = put_text(p, frame < 10u ? " frame 0" : " frame ");
            p = put_uint(p, (uint32_t)frame);
            p = put_text(p, " scores ");
            p = put_hex(p, scores, KWS_OUTPUT_0_SIZE);
#ifdef KWS_COUNT_INSTRUCTIONS
            p = put_text(p, " instructions ");
            p = put_uint(p, instructions);
#else
            (void)instructions;
#endif
            *p++ = '\n';
            *p = '\0';
            semihost_puts(line);
        }
    }
    semihost_puts("done\n");
    return 0;
}
