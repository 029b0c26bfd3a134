//! Work is bounded by loop iterations, not only bytes: a model of a few
//! hundred bytes declaring a zero-sized dimension next to a 2^31-1 one, or
//! an impossible broadcast, is refused at once (so neither the float
//! executor, `quantize` nor `compile` ever acts on it).

mod common;

use std::time::{Duration, Instant};

use common::B;
use common::{Net, T};
use tinyq_tflite::read;

const QUICK: Duration = Duration::from_millis(500);

fn refused(bytes: &[u8], want: &str) {
    let start = Instant::now();
    let e = read(bytes).expect_err("refused");
    assert!(start.elapsed() < QUICK, "took {:?}", start.elapsed());
    let line = e.to_string();
    assert!(!line.contains('\n') && line.contains(want), "{line}");
}

/// `x[dims] → RELU → y[dims]`, float32.
fn relu(dims: &[i32]) -> Vec<u8> {
    let mut n = Net::new();
    let x = n.act("x", dims, T::Float32, None);
    let y = n.act("y", dims, T::Float32, None);
    n.op(B::Relu, &[x], &[y], None);
    n.inputs = vec![x];
    n.outputs = vec![y];
    n.bytes()
}

/// With `TINYQ_DUMP_REGRESSIONS=DIR`, writes the models to `DIR` (how
/// `fuzz/regressions/*/zero-next-to-huge.tflite` were made).
fn dump(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("TINYQ_DUMP_REGRESSIONS") {
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).expect("dump");
    }
}

#[test]
fn zero_sized_dimension_next_to_a_huge_one_is_refused() {
    let bytes = relu(&[0, i32::MAX]);
    dump("zero-next-to-huge.tflite", &bytes);
    assert!(bytes.len() < 4096);
    refused(&bytes, "zero-sized dimensions counted as 1");
    refused(&relu(&[i32::MAX, 0, 1]), "\"x\"");
    // An ordinary zero-sized tensor of modest extent still reads.
    assert!(read(&relu(&[0, 16])).is_ok());
}

#[test]
fn impossible_broadcast_is_refused() {
    let mut n = Net::new();
    let a = n.act("a", &[1, 3], T::Float32, None);
    let b = n.act("b", &[1, 4], T::Float32, None);
    let c = n.act("c", &[1, 4], T::Float32, None);
    n.op(B::Add, &[a, b], &[c], None);
    n.inputs = vec![a, b];
    n.outputs = vec![c];
    dump("impossible-broadcast.tflite", &n.bytes());
    let start = Instant::now();
    assert!(read(&n.bytes()).is_err());
    assert!(start.elapsed() < QUICK);
}
