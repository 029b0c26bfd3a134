//! The plain (unquantized) integer steps: int32 ADD, SUB, MUL, DIV,
//! MAXIMUM, MINIMUM and CAST, the glue of TFLM's audio preprocessor
//! (`tinyq_kernels::int32`). Buffers hold little-endian values of the
//! kernel's types.

use tinyq_kernels::KernelError;
use tinyq_kernels::int32::{self, IntBinary, NumType};
use tinyq_kernels::wide_ops::WideBroadcast;

use crate::DType;

/// One plain integer kernel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int32Kernel {
    /// An int32 binary op, its fused activation as `act_min..=act_max`;
    /// `broadcast` is `None` when all shapes agree.
    Binary {
        op: IntBinary,
        act_min: i32,
        act_max: i32,
        broadcast: Option<WideBroadcast>,
    },
    /// CAST between two different types.
    Cast { from: NumType, to: NumType },
}

/// The kernels' element type of a tensor type, if CAST takes it.
pub fn num_type(dtype: DType) -> Option<NumType> {
    Some(match dtype {
        DType::I8 => NumType::I8,
        DType::I16 => NumType::I16,
        DType::I32 => NumType::I32,
        DType::U32 => NumType::U32,
        DType::F32 => NumType::F32,
        _ => return None,
    })
}

fn dtype_of(t: NumType) -> DType {
    match t {
        NumType::I8 => DType::I8,
        NumType::I16 => DType::I16,
        NumType::I32 => DType::I32,
        NumType::U32 => DType::U32,
        NumType::F32 => DType::F32,
    }
}

impl Int32Kernel {
    /// Short name for reports and generated code.
    pub fn name(&self) -> &'static str {
        match self {
            Int32Kernel::Binary { op, .. } => match op {
                IntBinary::Add => "add_i32",
                IntBinary::Sub => "sub_i32",
                IntBinary::Mul => "mul_i32",
                IntBinary::Div => "div_i32",
                IntBinary::Maximum => "maximum_i32",
                IntBinary::Minimum => "minimum_i32",
            },
            Int32Kernel::Cast { .. } => "cast",
        }
    }

    /// Data inputs the kernel reads.
    pub fn arity(&self) -> usize {
        match self {
            Int32Kernel::Binary { .. } => 2,
            Int32Kernel::Cast { .. } => 1,
        }
    }

    /// The element type of its inputs and of its output.
    pub fn dtypes(&self) -> (DType, DType) {
        match self {
            Int32Kernel::Binary { .. } => (DType::I32, DType::I32),
            Int32Kernel::Cast { from, to } => (dtype_of(*from), dtype_of(*to)),
        }
    }

    /// The kernel's checks on buffer sizes in bytes.
    pub fn check(&self, ins: &[usize], out: usize) -> Result<(), KernelError> {
        let (t_in, t_out) = self.dtypes();
        let elems = |bytes: usize, dtype: DType| {
            let size = dtype.size();
            if bytes.is_multiple_of(size) {
                Ok(bytes / size)
            } else {
                Err(KernelError::InvalidParams(
                    "buffer is not a whole number of elements",
                ))
            }
        };
        let n = |k: usize| elems(ins.get(k).copied().unwrap_or(0), t_in);
        match self {
            Int32Kernel::Binary {
                act_min,
                act_max,
                broadcast,
                ..
            } => int32::check_binary_i32(
                *act_min,
                *act_max,
                broadcast.as_ref(),
                [n(0)?, n(1)?, elems(out, t_out)?],
            ),
            Int32Kernel::Cast { from, to } => {
                int32::check_cast(*from, *to, n(0)?, elems(out, t_out)?)
            }
        }
    }

    /// Runs the kernel on byte buffers.
    pub fn run(&self, ins: &[&[u8]], out: &mut [u8]) -> Result<(), KernelError> {
        let input = |i: usize| {
            ins.get(i)
                .copied()
                .ok_or(KernelError::InvalidParams("int32 op input missing"))
        };
        match self {
            Int32Kernel::Binary {
                op,
                act_min,
                act_max,
                broadcast,
            } => int32::binary_i32(
                *op,
                *act_min,
                *act_max,
                broadcast.as_ref(),
                input(0)?,
                input(1)?,
                out,
            ),
            Int32Kernel::Cast { from, to } => int32::cast(*from, *to, input(0)?, out),
        }
    }
}
