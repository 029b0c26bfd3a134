// Timing harness for `cargo xtask bench`, the Rust twin of bench_main.c:
// runs the generated MNIST module on the int8 digits in the file named on
// the command line, ROUNDS times over all of them, and prints the median
// nanoseconds per inference and the same checksum as the C harness.
#[path = "mnist.rs"]
mod mnist;

const ROUNDS: usize = 7;
const MAX_DIGITS: usize = 256;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bench DIGITS.bin");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&path).unwrap_or_default();
    let digits: Vec<[i8; mnist::INPUT_0_LEN]> = bytes
        .chunks_exact(mnist::INPUT_0_LEN)
        .take(MAX_DIGITS)
        .map(|d| std::array::from_fn(|i| d[i] as i8))
        .collect();
    if digits.is_empty() {
        std::process::exit(2);
    }
    let mut arena = Box::new(mnist::Arena::new());
    let mut scores = [0i8; mnist::OUTPUT_0_LEN];
    let mut checksum = 0u32;
    let mut per_round = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = std::time::Instant::now();
        for digit in &digits {
            if mnist::invoke(std::hint::black_box(digit), &mut scores, &mut arena).is_err() {
                std::process::exit(1);
            }
            checksum = checksum.wrapping_add(u32::from(scores[0] as u8));
        }
        per_round.push(start.elapsed().as_nanos() as f64 / digits.len() as f64);
    }
    per_round.sort_by(f64::total_cmp);
    println!("{:.0} {checksum}", per_round[ROUNDS / 2]);
}
