//! The C of the plain integer steps (`templates/c/kernels/int32.c.tera`):
//! int32 ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM (`tq_binary_i32`) and CAST
//! (`tq_cast`), one call per step.

use std::fmt::Write as _;

use tinyq_ir::Step;
use tinyq_ir::int32_kernel::Int32Kernel;
use tinyq_kernels::int32::{IntBinary, NumType};
use tinyq_kernels::shape::{MAX_DIMS, Shape, broadcast_strides, strides};

use super::{Writer, c_i32, int, to_i64};
use crate::EmitError;

/// The template's type codes.
fn type_code(t: NumType) -> i32 {
    match t {
        NumType::I8 => 0,
        NumType::I16 => 1,
        NumType::I32 => 2,
        NumType::U32 => 3,
        NumType::F32 => 4,
    }
}

impl Writer<'_> {
    /// Writes one plain integer step.
    pub(super) fn int32_step(
        &mut self,
        index: usize,
        kernel: &Int32Kernel,
        step: &Step,
        dst: &str,
        out_len: usize,
    ) -> Result<(), EmitError> {
        let invalid = |why: String| EmitError::InvalidStep {
            step: index,
            kernel: kernel.name(),
            why,
        };
        let mut src = |k: usize| -> Result<String, EmitError> {
            let b = step
                .inputs
                .get(k)
                .copied()
                .ok_or_else(|| invalid(format!("missing input {k}")))?;
            Ok(self.src(b))
        };
        let call = match kernel {
            Int32Kernel::Binary {
                op,
                act_min,
                act_max,
                broadcast,
            } => {
                let (x, y) = (src(0)?, src(1)?);
                let flat: Shape = {
                    let mut s = [1; MAX_DIMS];
                    s[MAX_DIMS - 1] = out_len / 4;
                    s
                };
                let bad = |e| invalid(format!("{e}"));
                let (shape, s1, s2) = match broadcast {
                    None => (flat, strides(&flat), strides(&flat)),
                    Some(b) => (
                        b.out_shape,
                        broadcast_strides(&b.shape1, &b.out_shape).map_err(bad)?,
                        broadcast_strides(&b.shape2, &b.out_shape).map_err(bad)?,
                    ),
                };
                let mut d = shape.to_vec();
                d.extend(s1);
                d.extend(s2);
                let dims = self.dims_array(index, &to_i64(&d))?;
                let code = match op {
                    IntBinary::Add => 0,
                    IntBinary::Sub => 1,
                    IntBinary::Mul => 2,
                    IntBinary::Div => 3,
                    IntBinary::Maximum => 4,
                    IntBinary::Minimum => 5,
                };
                self.use_kernel("int32", &[]);
                self.use_kernel("binary_i32", &[]);
                format!(
                    "tq_binary_i32({x}, {y}, {dst}, {code} /* {} */, {}, {}, {dims})",
                    kernel.name(),
                    c_i32(*act_min),
                    c_i32(*act_max)
                )
            }
            Int32Kernel::Cast { from, to } => {
                let x = src(0)?;
                self.use_kernel("int32", &[]);
                self.use_kernel("cast", &[]);
                format!(
                    "tq_cast({x}, {dst}, {}, {} /* {from:?} */, {} /* {to:?} */)",
                    int(out_len / to.size(), "an element count")?,
                    type_code(*from),
                    type_code(*to)
                )
            }
        };
        let _ = writeln!(self.body, "    {call};");
        Ok(())
    }
}
