//! Differential checks of graph passes: lower the graph before and after,
//! run both Programs on the same inputs, demand equal bytes. Shared by the
//! filetests (`tests/passes.rs`) and the random-graph proptest.

use tinyq_interp::Interpreter;
use tinyq_ir::{DType, Graph, Program};
use tinyq_opt::LowerOptions;

/// A tiny deterministic generator (xorshift64*), so a failure reproduces
/// from its seed without any test framework.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
}

/// Input buffers for `program`: `fill` for every 8-bit byte if given
/// (the extremes -128 = 0x80 and 127 = 0x7f), else random bytes, with
/// random extremes sprinkled in; floats uniform in [-8, 8].
pub fn inputs(program: &Program, rng: &mut Rng, fill: Option<u8>) -> Vec<Vec<u8>> {
    program
        .inputs
        .iter()
        .map(|spec| match spec.dtype {
            DType::F32 => (0..spec.num_elements())
                .flat_map(|_| {
                    let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                    (unit * 16.0 - 8.0).to_le_bytes()
                })
                .collect(),
            _ => (0..spec.byte_len())
                .map(|_| match fill {
                    Some(f) => f,
                    None => match rng.byte() % 8 {
                        0 => 0x80,
                        1 => 0x7f,
                        _ => rng.byte(),
                    },
                })
                .collect(),
        })
        .collect()
}

/// Runs `program` once.
pub fn run(program: &Program, inputs: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let mut interp = Interpreter::new(program);
    let ins: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
    let mut outs: Vec<Vec<u8>> = program
        .outputs
        .iter()
        .map(|o| vec![0; o.byte_len()])
        .collect();
    let mut refs: Vec<&mut [u8]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
    interp.invoke(&ins, &mut refs).map_err(|e| e.to_string())?;
    Ok(outs)
}

/// What [`compare`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Both lowered and agreed on every byte of this many runs.
    Equal(usize),
    /// The reference graph does not lower (or run): nothing to compare.
    ReferenceFails(String),
}

/// Lowers `reference` and `optimized`, runs both on the all -128 and all
/// 127 inputs and `random` random ones (from `seed`), and demands equal
/// bytes. An error describes the first difference, or an optimized graph
/// that fails where the reference works.
pub fn compare(
    reference: &Graph,
    optimized: &Graph,
    seed: u64,
    random: usize,
) -> Result<Verdict, String> {
    // The reference is lowered plainly, one kernel per op; the optimized
    // graph with lowering's own rewrites (zero points folded into biases,
    // 1x1 convolutions as matrix multiplies, concatenations in place), so
    // those are compared too.
    let before = match tinyq_opt::lower_with(reference, LowerOptions::none()) {
        Ok((p, _)) => p,
        Err(e) => return Ok(Verdict::ReferenceFails(e.to_string())),
    };
    let after = tinyq_opt::lower(optimized)
        .map_err(|e| format!("the reference lowers but the optimized graph does not: {e}"))?;
    let mut rng = Rng::new(seed);
    let fills = [Some(0x80u8), Some(0x7f)]
        .into_iter()
        .chain(std::iter::repeat_n(None, random));
    let mut runs = 0;
    for (trial, fill) in fills.enumerate() {
        let ins = inputs(&before, &mut rng, fill);
        let want = match run(&before, &ins) {
            Ok(o) => o,
            // A kernel refusing at run time (e.g. an average pool window
            // entirely in padding) is the reference's own failure.
            Err(e) if runs == 0 => return Ok(Verdict::ReferenceFails(e)),
            Err(e) => return Err(format!("trial {trial}: the reference failed: {e}")),
        };
        let got = run(&after, &ins).map_err(|e| {
            format!("trial {trial}: the reference runs but the optimized fails: {e}")
        })?;
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w {
                let first = g.iter().zip(w).position(|(a, b)| a != b).unwrap_or(0);
                return Err(format!(
                    "trial {trial}: output {k} differs at byte {first} (optimized {} vs reference {}); inputs {:02x?}",
                    g.get(first).map_or(0, |&b| b as i8),
                    w.get(first).map_or(0, |&b| b as i8),
                    ins
                ));
            }
        }
        runs += 1;
    }
    Ok(Verdict::Equal(runs))
}
