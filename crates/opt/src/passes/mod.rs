//! The graph rewrites. Each is exact: the optimized model's outputs equal,
//! byte for byte, what TFLM computes on the model as given.

mod const_fold;
mod dce;
mod fold_pad;
mod identity;
mod lut;
mod merge_clamp;

pub use const_fold::ConstFold;
pub use dce::Dce;
pub use fold_pad::FoldPad;
pub use identity::RemoveIdentity;
pub use lut::Lut;
pub use merge_clamp::MergeClamp;

use crate::pass::Pass;

/// The standard pipeline, in order:
///
/// 1. `const-fold`: ops whose inputs are all constant become constants;
/// 2. `fold-pad`: explicit PAD into the next convolution's padding;
/// 3. `remove-identity`: identity reshapes, transposes, slices and
///    requantizations, and chains of reshapes;
/// 4. `merge-clamp`: standalone RELU/RELU6/RELU_N1_TO_1 into the producer's
///    fused activation;
/// 5. `lut`: 8-bit element-wise ops as 256-entry tables, chains composed;
/// 6. `dce`: ops whose results nobody reads.
pub fn standard() -> Vec<Box<dyn Pass>> {
    vec![
        Box::new(ConstFold),
        Box::new(FoldPad),
        Box::new(RemoveIdentity),
        Box::new(MergeClamp),
        Box::new(Lut),
        Box::new(Dce),
    ]
}

/// A pass of the standard pipeline by name (`fold-pad`), for filetests and
/// `inspect --after`.
pub fn by_name(name: &str) -> Option<Box<dyn Pass>> {
    standard().into_iter().find(|p| p.name() == name)
}

/// `"1 PAD op"`, `"3 PAD ops"`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
