/*
 * Streaming keyword spotting on a Cortex-M4 with tinyq-generated C: audio
 * in, keyword scores out, one 20 ms step at a time.
 *
 * Two models, both compiled by tinyq and both stateful:
 *
 *   pre  the audio preprocessor (TFLM micro_speech's, signal-library ops):
 *        a 30 ms window of 16 kHz int16 audio -> 40 int8 log filter-bank
 *        features. It keeps a noise estimate per channel between invokes.
 *   kws  the keyword model: one frame of 40 features -> 4 int8 scores. Its
 *        two SVDF layers keep the history of the past frames.
 *
 * Each model's state lives in the first NAME_STATE_SIZE bytes of its arena
 * and persists from one invoke to the next; NAME_reset() puts it back to
 * its initial value, as TFLM's MicroInterpreter::Reset() does. So a device
 * calls pre_invoke() and kws_invoke() once per 20 ms of new audio, and the
 * two resets when a new stream starts (here: before each utterance).
 *
 * Each step prints one line over semihosting:
 *
 *     utt 0 frame 07 features 8080...80 scores 9a81e2c3
 *
 * the 40 features and the 4 scores in hex (int8 as two's complement).
 * Built with -DKWS_COUNT_INSTRUCTIONS and run under qemu -icount shift=0,
 * the line ends with the instructions each invoke took.
 */
#include <stddef.h>
#include <stdint.h>

#include "pre.h"
#include "kws.h"
#include "audio.h" /* AUDIO_UTTERANCES, AUDIO_SAMPLES, audio[][AUDIO_SAMPLES] */
#include "semihost.h"

/* 16 kHz: a 30 ms window (the preprocessor's input), 20 ms apart. */
#define WINDOW_SAMPLES (PRE_INPUT_0_SIZE / 2)
#define STRIDE_SAMPLES 320
#define FRAMES ((AUDIO_SAMPLES - WINDOW_SAMPLES) / STRIDE_SAMPLES + 1)

#if KWS_INPUT_0_SIZE != PRE_OUTPUT_0_SIZE
#error "the keyword model does not take the preprocessor's features"
#endif

/* The arenas: persistent state first, then scratch. Static, aligned. */
static union {
    uint8_t bytes[PRE_ARENA_SIZE];
    uint64_t align[2];
} pre_arena;
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

/* The instructions one call took (0 without the counter). */
typedef int (*invoke_fn)(const void *const *, void *const *, void *);
static int timed_invoke(invoke_fn invoke, const void *input, void *output, void *arena,
                        uint32_t *instructions)
{
    const void *inputs[1];
    void *outputs[1];
    int status;
#ifdef KWS_COUNT_INSTRUCTIONS
    uint32_t start;
    timer_start();
    start = timer_now();
#endif
    inputs[0] = input;
    outputs[0] = output;
    status = invoke(inputs, outputs, arena);
#ifdef KWS_COUNT_INSTRUCTIONS
    *instructions = (start - timer_now()) * 40u;
#else
    *instructions = 0u;
#endif
    return status;
}

/* One 20 ms step: the newest 30 ms of audio in, features and scores out. */
static int kws_step(const int16_t *window, int8_t *features, int8_t *scores,
                    uint32_t instructions[2])
{
    if (timed_invoke(pre_invoke, window, features, pre_arena.bytes, &instructions[0]) != 0) {
        return 1;
    }
    return timed_invoke(kws_invoke, features, scores, kws_arena.bytes, &instructions[1]);
}

int main(void)
{
    unsigned utt;
    for (utt = 0; utt < AUDIO_UTTERANCES; ++utt) {
        size_t frame;
        /* A new utterance: forget the previous one's noise and frames. */
        pre_reset(pre_arena.bytes);
        kws_reset(kws_arena.bytes);
        for (frame = 0; frame < FRAMES; ++frame) {
            int8_t features[PRE_OUTPUT_0_SIZE];
            int8_t scores[KWS_OUTPUT_0_SIZE];
            uint32_t instructions[2];
            char line[192];
            char *p = line;
            if (kws_step(&audio[utt][frame * STRIDE_SAMPLES], features, scores, instructions) !=
                0) {
                semihost_puts("invoke failed\n");
                return 1;
            }
            p = put_text(p, "utt ");
            p = put_uint(p, utt);
            p = put_text(p, frame < 10u ? " frame 0" : " frame ");
            p = put_uint(p, (uint32_t)frame);
            p = put_text(p, " features ");
            p = put_hex(p, features, PRE_OUTPUT_0_SIZE);
            p = put_text(p, " scores ");
            p = put_hex(p, scores, KWS_OUTPUT_0_SIZE);
#ifdef KWS_COUNT_INSTRUCTIONS
            p = put_text(p, " instructions ");
            p = put_uint(p, instructions[0]);
            p = put_text(p, " ");
            p = put_uint(p, instructions[1]);
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
