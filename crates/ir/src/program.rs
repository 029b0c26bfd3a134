//! The Program: what the machine does. Kernel steps in execution order with
//! every parameter folded and every buffer resolved.

use crate::tensor::DType;

use crate::kernel::Kernel;

/// Where a step reads or writes its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferRef {
    /// The caller's buffer for model input `i`.
    Input(usize),
    /// The caller's buffer for model output `i`.
    Output(usize),
    /// `size` bytes at `offset` in the caller-provided arena.
    Arena { offset: usize, size: usize },
    /// Constant `i` of [`Program::constants`] (a constant operand such as
    /// the second input of an ADD).
    Const(usize),
}

/// A model input or output as the caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IoSpec {
    /// The tensor's name in the model (untrusted text).
    pub name: String,
    /// Static shape, row-major.
    pub shape: Vec<usize>,
    /// `I8`, `U8` or `F32`.
    pub dtype: DType,
    /// Scale and zero point of a quantized tensor.
    pub quant: Option<(f32, i32)>,
}

impl IoSpec {
    /// Number of elements.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> usize {
        self.num_elements() * self.dtype.size()
    }
}

/// One kernel call.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kernel: Kernel,
    /// Data inputs, in the kernel's argument order.
    pub inputs: Vec<BufferRef>,
    pub output: BufferRef,
    /// Index of the operator in the source model this step comes from.
    pub origin: Option<usize>,
}

/// A lowered model, ready for the interpreter and the backends.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub steps: Vec<Step>,
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    /// Constant operands read through [`BufferRef::Const`], little-endian.
    pub constants: Vec<Vec<u8>>,
    /// Bytes of scratch the caller provides (16-byte aligned).
    pub arena_size: usize,
    /// The largest number of bytes live at any one step: no plan can beat it.
    pub arena_lower_bound: usize,
}
