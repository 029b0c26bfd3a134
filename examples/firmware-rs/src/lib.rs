//! MNIST digit classification on a microcontroller, with the model compiled
//! into this crate by `tinyq::include_model!`: `no_std`, no allocator, no
//! `unsafe`, no runtime.
//!
//! ```
//! let pixels = [0u8; 784]; // a 28x28 grayscale image, 0..=255
//! let digit = firmware_rs::classify(&pixels);
//! assert!(digit < 10);
//! ```
#![no_std]

/// The compiled model: `mnist::invoke`, `mnist::Arena`, `mnist::INPUT_0_SCALE`, ...
pub mod mnist {
    tinyq::include_model!("../mnist/generated/mnist_int8.tflite", name = "mnist");
}

/// Side of the square input image.
pub const SIDE: usize = 28;

/// The model's int8 input for each pixel value, computed at compile time
/// exactly as TFLM's QUANTIZE computes it from the float `pixel / 255`:
/// `round_half_away(x / scale) + zero_point`, clamped, with every division
/// in `f32` (const-evaluated float arithmetic is IEEE arithmetic).
pub static PIXEL_TO_INPUT: [i8; 256] = pixel_table();

const fn round_half_away(x: f32) -> f32 {
    // Exact for |x| < 2^23: `x - trunc(x)` is representable.
    let t = x as i32 as f32;
    let frac = x - t;
    if frac >= 0.5 {
        t + 1.0
    } else if frac <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

const fn pixel_table() -> [i8; 256] {
    let mut table = [0i8; 256];
    let mut p = 0;
    while p < 256 {
        let x = p as f32 / 255.0;
        let q = round_half_away(x / mnist::INPUT_0_SCALE) as i32 + mnist::INPUT_0_ZERO_POINT;
        table[p] = if q < -128 {
            -128
        } else if q > 127 {
            127
        } else {
            q as i8
        };
        p += 1;
    }
    table
}

/// Quantizes a 28x28 grayscale image (row-major, 0 = black) into the
/// model's input.
pub fn quantize(pixels: &[u8; SIDE * SIDE]) -> [i8; mnist::INPUT_0_LEN] {
    let mut input = [0i8; mnist::INPUT_0_LEN];
    for (q, &p) in input.iter_mut().zip(pixels.iter()) {
        *q = PIXEL_TO_INPUT[usize::from(p)];
    }
    input
}

/// The ten class scores (int8, quantized softmax) of an image.
pub fn scores(
    pixels: &[u8; SIDE * SIDE],
    arena: &mut mnist::Arena,
) -> Result<[i8; mnist::OUTPUT_0_LEN], mnist::Error> {
    let mut out = [0i8; mnist::OUTPUT_0_LEN];
    mnist::invoke(&quantize(pixels), &mut out, arena)?;
    Ok(out)
}

/// The digit (0..=9) in a 28x28 grayscale image, with the arena on the
/// stack (`mnist::ARENA_SIZE` bytes). Ties go to the lower digit; the model
/// cannot fail on a well-formed image, and would answer 0 if it did.
pub fn classify(pixels: &[u8; SIDE * SIDE]) -> u8 {
    let mut arena = mnist::Arena::new();
    classify_with(pixels, &mut arena)
}

/// [`classify`] with a caller-provided arena (e.g. a `static` one).
pub fn classify_with(pixels: &[u8; SIDE * SIDE], arena: &mut mnist::Arena) -> u8 {
    let Ok(scores) = scores(pixels, arena) else {
        return 0;
    };
    let mut best = 0u8;
    let mut best_score = i8::MIN;
    for (digit, &s) in (0u8..).zip(scores.iter()) {
        if s > best_score {
            best = digit;
            best_score = s;
        }
    }
    best
}
