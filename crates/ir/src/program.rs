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

/// Where a step comes from, so generated code and reports can name the layer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// Index of the operator in the source model (`None` for steps tinyq
    /// adds itself, such as the copy into an output that no op writes).
    pub origin: Option<usize>,
    /// The TFLite op it implements (`CONV_2D`, ...); rewrites that absorbed
    /// another op keep the surviving op's name.
    pub op: String,
    /// Name of the tensor the step writes, as the model spells it
    /// (untrusted text: backends sanitize it before it reaches source).
    pub output: String,
    /// Shapes of the data inputs, in argument order.
    pub input_shapes: Vec<Vec<usize>>,
    /// Shape of the output.
    pub output_shape: Vec<usize>,
}

/// Longest tensor name a step comment quotes; longer ones are cut.
const COMMENT_NAME_MAX: usize = 96;

/// Untrusted text made safe inside a C `/* */` or Rust `//` comment and a
/// quoted string: printable ASCII without `*`, `\\`, `"`, `?` (no comment
/// terminator, escape or trigraph can form), cut to a readable length.
pub fn comment_safe(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | ' ' => c,
            '_' | '.' | '/' | ':' | ';' | '-' | '+' | '(' | ')' | '[' | ']' | ',' | '=' => c,
            _ => '_',
        })
        .collect();
    if out.chars().count() > COMMENT_NAME_MAX {
        out = out.chars().take(COMMENT_NAME_MAX - 3).collect();
        out.push_str("...");
    }
    out
}

impl Provenance {
    /// The one-line description each backend puts above a step:
    /// `step 3: conv2d, model operator 2, "conv/Relu", [1,8,8,4] -> [1,8,8,16]`.
    pub fn describe(&self, index: usize, kernel: &str) -> String {
        let origin = match self.origin {
            Some(o) => format!(", model operator {o}"),
            None => String::new(),
        };
        format!(
            "step {index}: {kernel}{origin}, \"{}\", {}",
            comment_safe(&self.output),
            self.shapes()
        )
    }

    /// `[1,28,28,1] -> [1,26,26,8]`: the shapes part of a step comment.
    pub fn shapes(&self) -> String {
        let ins: Vec<String> = self
            .input_shapes
            .iter()
            .map(|s| crate::tensor::shape_string(s))
            .collect();
        format!(
            "{} -> {}",
            ins.join(", "),
            crate::tensor::shape_string(&self.output_shape)
        )
    }
}

/// One kernel call.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub kernel: Kernel,
    /// Data inputs, in the kernel's argument order.
    pub inputs: Vec<BufferRef>,
    pub output: BufferRef,
    /// The model operator, tensor and shapes this step implements.
    pub provenance: Provenance,
}

/// A lowered model, ready for the interpreter and the backends.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub steps: Vec<Step>,
    pub inputs: Vec<IoSpec>,
    pub outputs: Vec<IoSpec>,
    /// Constant operands read through [`BufferRef::Const`], little-endian.
    pub constants: Vec<Vec<u8>>,
    /// Bytes of arena the caller provides (16-byte aligned): the persistent
    /// state first (`state_size` bytes), then scratch.
    pub arena_size: usize,
    /// The largest number of bytes live at any one step: no plan of
    /// disjoint buffers can beat it (the classic liveness bound).
    pub arena_lower_bound: usize,
    /// The same bound when each step's output may overlap the input it
    /// consumes as far as the kernel allows ([`crate::overlap`]): no plan
    /// can beat it. Equal to `arena_lower_bound` when nothing may overlap.
    pub arena_overlap_bound: usize,
    /// Bytes at the start of the arena that persist between invokes: the
    /// variable tensors of stateful ops (a multiple of 16; 0 if stateless).
    /// No step writes them except through a stateful kernel's state input
    /// ([`Kernel::state_input`]), and every step may read them.
    pub state_size: usize,
    /// The state's bytes after a reset (`state_size` of them): what TFLM's
    /// `ResetVariableTensors` writes, an int8 state's zero point, else 0.
    pub state_init: Vec<u8>,
}

impl Program {
    /// Whether the non-empty arena range `start..end` touches the
    /// persistent state (which starts the arena).
    pub fn touches_state(&self, start: usize, end: usize) -> bool {
        start < end && start < self.state_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_text_cannot_escape() {
        let p = Provenance {
            origin: Some(4),
            op: "CONV_2D".to_string(),
            output: "a*/ b\"\\??/\nc".to_string(),
            input_shapes: vec![vec![1, 4, 4, 2]],
            output_shape: vec![1, 4, 4, 8],
        };
        let text = p.describe(3, "conv2d");
        assert_eq!(
            text,
            "step 3: conv2d, model operator 4, \"a_/ b____/_c\", [1,4,4,2] -> [1,4,4,8]"
        );
        let long = comment_safe(&"x".repeat(500));
        assert_eq!(long.len(), COMMENT_NAME_MAX);
    }
}
