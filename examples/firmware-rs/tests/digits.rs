//! The firmware classifies real MNIST test digits, and its input
//! quantization is TFLM's QUANTIZE.

use firmware_rs::{PIXEL_TO_INPUT, classify, mnist};
use tinyq_tests::read_npy;

fn data(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mnist/data")
        .join(file)
}

#[test]
fn pixel_quantization_is_tflm_quantize() {
    let floats: Vec<f32> = (0..=255u8).map(|p| f32::from(p) / 255.0).collect();
    let mut want = [0i8; 256];
    let params = tinyq_kernels::quantize::QuantParams {
        scale: mnist::INPUT_0_SCALE,
        zero_point: mnist::INPUT_0_ZERO_POINT,
    };
    tinyq_kernels::quantize::quantize_f32_to_i8(&params, &floats, &mut want).expect("quantize");
    assert_eq!(PIXEL_TO_INPUT, want);
}

#[test]
fn classifies_real_digits() {
    let images = read_npy(&data("test-images.npy")).expect("images");
    let labels = read_npy(&data("test-labels.npy")).expect("labels");
    assert_eq!(images.shape, [2000, 28, 28]);
    let n = images.samples();
    let mut correct = 0;
    for i in 0..n {
        let pixels: &[u8; 784] = images.sample(i).try_into().expect("28x28");
        if classify(pixels) == labels.bytes[i] {
            correct += 1;
        }
    }
    let accuracy = correct as f64 / n as f64;
    println!("firmware-rs: {correct}/{n} MNIST test digits correct ({accuracy:.4})");
    // tinyq's int8 MNIST model scores 97.30% on these 2000 digits (`cargo
    // xtask codegen`): a drop means a wrong quantization or kernel.
    assert!(accuracy > 0.97, "accuracy {accuracy}");
}

#[test]
fn classify_equals_the_interpreter() {
    let session = tinyq_compiler::Session::new();
    let model = session
        .read_file(&data("../generated/mnist_int8.tflite"))
        .expect("model");
    let program = session.compile(&model, None).expect("compile").program;
    let mut interp = tinyq_interp::Interpreter::new(&program);
    let images = read_npy(&data("test-images.npy")).expect("images");
    let mut arena = mnist::Arena::new();
    for i in 0..200 {
        let pixels: &[u8; 784] = images.sample(i).try_into().expect("28x28");
        let input: Vec<u8> = firmware_rs::quantize(pixels)
            .iter()
            .map(|&v| v as u8)
            .collect();
        let mut want = vec![0u8; 10];
        interp.invoke(&[&input], &mut [&mut want]).expect("interp");
        let got = firmware_rs::scores(pixels, &mut arena).expect("scores");
        let got: Vec<u8> = got.iter().map(|&v| v as u8).collect();
        assert_eq!(got, want, "image {i}");
    }
}

#[test]
fn classify_fits_a_microcontroller_stack() {
    // `classify` keeps its arena (about 14.4 kB) on the stack: 32 KiB of
    // stack is plenty, as on a Cortex-M4 with a modest main stack.
    const _: () = assert!(mnist::ARENA_SIZE < 16 * 1024);
    let images = read_npy(&data("test-images.npy")).expect("images");
    let labels = read_npy(&data("test-labels.npy")).expect("labels");
    let image: [u8; 784] = images.sample(0).try_into().expect("28x28");
    let digit = std::thread::Builder::new()
        .stack_size(32 * 1024)
        .spawn(move || classify(&image))
        .expect("spawn")
        .join()
        .expect("classify overflowed a 32 KiB stack");
    assert_eq!(digit, labels.bytes[0]);
}
