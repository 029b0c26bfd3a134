//! The C of the int16 steps of 16x8 models besides the conv-like layers
//! (`templates/c/kernels/int16_ops.c.tera`): ADD/SUB, MUL, LEAKY_RELU,
//! RELU (a requantization with the RELU's clamp), RELU6 (a clamp),
//! requantization, PAD, STRIDED_SLICE, SOFTMAX, LOGISTIC and TANH (one table,
//! `tq_sigmoid_i16`), CONCATENATION (the int8 byte copy,
//! two bytes a value), MAX_POOL_2D, AVERAGE_POOL_2D, MEAN and TRANSPOSE_CONV.

use std::fmt::Write as _;

use tinyq_ir::Step;
use tinyq_ir::int16_kernel::{Int16Kernel, Requantize16};
use tinyq_kernels::shape::{MAX_DIMS, Shape, broadcast_strides, strides};
use tinyq_kernels::wide_ops::WideBroadcast;
use tinyq_kernels::wide_sigmoid::Sigmoid16;

use super::{Field, Writer, c_i32, dims, int, to_i64};
use crate::EmitError;

/// The helpers of the moves, and of the ops that requantize (ADD/SUB
/// rescales through the fixed-point steps without `tq_mbqm`).
const MOVES: &[&str] = &["load_i16", "store_i16"];
const ADD_SUB: &[&str] = &["wrap", "fixedpoint", "load_i16", "store_i16"];
const REQUANTIZES: &[&str] = &["wrap", "fixedpoint", "mbqm", "load_i16", "store_i16"];

impl Writer<'_> {
    /// Writes one int16 step.
    pub(super) fn int16_step(
        &mut self,
        index: usize,
        kernel: &Int16Kernel,
        step: &Step,
        dst: &str,
        out_len: usize,
    ) -> Result<(), EmitError> {
        let name = kernel.name();
        let invalid = |why: String| EmitError::InvalidStep {
            step: index,
            kernel: name,
            why,
        };
        let input = |k: usize| {
            step.inputs
                .get(k)
                .copied()
                .ok_or_else(|| invalid(format!("missing input {k}")))
        };
        match kernel {
            Int16Kernel::AddSub {
                params: p,
                subtract,
                broadcast,
            } => {
                self.use_kernel("add_sub_i16", ADD_SUB);
                let (x, y) = (self.src(input(0)?), self.src(input(1)?));
                let d = self.binary_dims(index, broadcast.as_ref(), out_len)?;
                let fields = [
                    vec![
                        Field::int("input1_offset", p.input1_offset),
                        Field::int("input2_offset", p.input2_offset),
                        Field::int("output_offset", p.output_offset),
                        Field::int("left_shift", p.left_shift),
                    ],
                    vec![
                        Field::int("input1_multiplier", p.input1_multiplier),
                        Field::int("input1_shift", p.input1_shift),
                    ],
                    vec![
                        Field::int("input2_multiplier", p.input2_multiplier),
                        Field::int("input2_shift", p.input2_shift),
                    ],
                    vec![
                        Field::int("output_multiplier", p.output_multiplier),
                        Field::int("output_shift", p.output_shift),
                    ],
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                        Field::int("subtract", i32::from(*subtract)),
                    ],
                ];
                let params = self.params_struct(index, "tq_add_sub_i16_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_add_sub_i16(&{params}, {x}, {y}, {dst}, {d});"
                );
            }
            Int16Kernel::BatchMatMul(p) => {
                self.use_kernel("batch_matmul_i16", &["load_i16", "store_i16", "mbqm64"]);
                let (lhs, rhs) = (self.src(input(0)?), self.src(input(1)?));
                let fields = super::batch_matmul_fields(p)?;
                let params = self.params_struct(index, "tq_batch_matmul_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_batch_matmul_i16(&{params}, {lhs}, {rhs}, {dst});"
                );
            }
            Int16Kernel::Mul {
                params: p,
                broadcast,
            } => {
                // No wrapping add: the product and tq_mbqm only.
                self.use_kernel("mul_i16", &["fixedpoint", "mbqm", "load_i16", "store_i16"]);
                let (x, y) = (self.src(input(0)?), self.src(input(1)?));
                let d = self.binary_dims(index, broadcast.as_ref(), out_len)?;
                let _ = writeln!(
                    self.body,
                    "    tq_mul_i16({x}, {y}, {dst}, {d}, {}, {}, {}, {});",
                    c_i32(p.output_multiplier),
                    p.output_shift,
                    c_i32(p.act_min),
                    p.act_max
                );
            }
            Int16Kernel::LeakyRelu(p) => {
                self.use_kernel("leaky_relu_i16", REQUANTIZES);
                let src = self.src(input(0)?);
                let fields = [
                    vec![
                        Field::int("input_zero_point", p.input_zero_point),
                        Field::int("output_zero_point", p.output_zero_point),
                    ],
                    vec![
                        Field::int("alpha_multiplier", p.output_multiplier_alpha),
                        Field::int("alpha_shift", p.output_shift_alpha),
                    ],
                    vec![
                        Field::int("identity_multiplier", p.output_multiplier_identity),
                        Field::int("identity_shift", p.output_shift_identity),
                    ],
                ];
                let params = self.params_struct(index, "tq_leaky_relu_i16_params", &fields);
                let count = int(out_len / 2, "an element count")?;
                let _ = writeln!(
                    self.body,
                    "    tq_leaky_relu_i16(&{params}, {src}, {dst}, {count});"
                );
            }
            Int16Kernel::Requantize { params: p, types } => {
                self.use_kernel("requantize_i16", REQUANTIZES);
                let src = self.src(input(0)?);
                let (in_bytes, out_bytes, (lo, hi)) = match types {
                    Requantize16::I16ToI16 => (2, 2, (-32768, 32767)),
                    Requantize16::I16ToI8 => (2, 1, (-128, 127)),
                    Requantize16::I8ToI16 => (1, 2, (-32768, 32767)),
                };
                let count = int(out_len / out_bytes, "an element count")?;
                let _ = writeln!(
                    self.body,
                    "    tq_requantize_i16({src}, {dst}, {count}, {in_bytes}, {out_bytes}, {}, {}, {}, {}, {}, {});",
                    c_i32(p.multiplier),
                    p.shift,
                    c_i32(p.input_zero_point),
                    c_i32(p.output_zero_point),
                    c_i32(lo),
                    hi
                );
            }
            Int16Kernel::Relu(p) => {
                self.use_kernel("requantize_i16", REQUANTIZES);
                let src = self.src(input(0)?);
                let count = int(out_len / 2, "an element count")?;
                let _ = writeln!(
                    self.body,
                    "    tq_requantize_i16({src}, {dst}, {count}, 2, 2, {}, {}, {}, {}, {}, {});",
                    c_i32(p.output_multiplier),
                    p.output_shift,
                    c_i32(p.input_zero_point),
                    c_i32(p.output_zero_point),
                    c_i32(p.act_min),
                    p.act_max
                );
            }
            Int16Kernel::Clamp(p) => {
                self.use_kernel("clamp_i16", MOVES);
                let src = self.src(input(0)?);
                let count = int(out_len / 2, "an element count")?;
                let _ = writeln!(
                    self.body,
                    "    tq_clamp_i16({src}, {dst}, {count}, {}, {});",
                    c_i32(i32::from(p.min)),
                    p.max
                );
            }
            Int16Kernel::MaxPool(p) | Int16Kernel::AveragePool(p) => {
                let func = if matches!(kernel, Int16Kernel::MaxPool(_)) {
                    "max_pool_i16"
                } else {
                    "average_pool_i16"
                };
                self.use_kernel(func, MOVES);
                let src = self.src(input(0)?);
                let fields = [
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("channels", p.channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ];
                let params = self.params_struct(index, "tq_pool_params", &fields);
                let _ = writeln!(self.body, "    tq_{func}(&{params}, {src}, {dst});");
            }
            Int16Kernel::Mean(p) => {
                self.use_kernel("mean_i16", REQUANTIZES);
                let src = self.src(input(0)?);
                if p.num_elements_in_axis <= 0 || p.truncating_same_params {
                    return Err(invalid("int16 mean over no elements".to_string()));
                }
                let mut outer: Shape = p.input_shape;
                let mut reduced: Shape = [1; MAX_DIMS];
                for d in 0..MAX_DIMS {
                    if p.reduce[d] {
                        outer[d] = 1;
                        reduced[d] = p.input_shape[d];
                    }
                }
                // The int64 product, truncated to int32 with the subtraction (as TFLM).
                let zero_point_sum =
                    i64::from(p.input_zero_point).wrapping_mul(p.num_elements_in_axis) as i32;
                let mut d = outer.to_vec();
                d.extend(reduced);
                d.extend(strides(&p.input_shape));
                let d = self.dims_array(index, &to_i64(&d))?;
                let _ = writeln!(
                    self.body,
                    "    tq_mean_i16({src}, {dst}, {d}, {}, {}, {}, {});",
                    c_i32(zero_point_sum),
                    c_i32(p.multiplier),
                    p.shift,
                    c_i32(p.output_zero_point)
                );
            }
            Int16Kernel::Softmax(p) => {
                self.use_kernel("softmax_i16", REQUANTIZES);
                let src = self.src(input(0)?);
                let exp = self.lut16(index, "exp_lut", &p.exp_lut);
                let recip =
                    self.lut16(index, "one_over_one_plus_x_lut", &p.one_over_one_plus_x_lut);
                let _ = writeln!(
                    self.body,
                    "    tq_softmax_i16({src}, {dst}, {}, {}, {}, {}, {exp}, {recip});",
                    int(p.outer, "a softmax row count")?,
                    int(p.depth, "a softmax row length")?,
                    c_i32(p.input_multiplier),
                    p.input_left_shift
                );
            }
            Int16Kernel::Sigmoid {
                function,
                params: p,
            } => {
                self.use_kernel("sigmoid_i16", &["load_i16", "store_i16", "sigmoid16"]);
                let src = self.src(input(0)?);
                let is_tanh = i32::from(*function == Sigmoid16::Tanh);
                let _ = writeln!(
                    self.body,
                    "    tq_sigmoid_i16({src}, {dst}, {}, {}, {}, {is_tanh});",
                    int(out_len / 2, "an element count")?,
                    p.multiplier,
                    p.shift
                );
            }
            Int16Kernel::Concat { params: p, blocks } => {
                // A copy: the int8 kernel on bytes, each block twice as long.
                self.use_kernel("concat", &[]);
                let mut srcs = Vec::new();
                let mut sizes = Vec::new();
                for (k, &block) in blocks.iter().enumerate() {
                    srcs.push(self.src(input(k)?));
                    sizes.push(i64::from(int(2 * block, "a concatenation block")?));
                }
                let count = srcs.len();
                let sizes = self.int_array(index, "sizes", &sizes);
                let _ = writeln!(
                    self.body,
                    "    {{\n        const int8_t *const srcs[{count}] = {{{}}};\n        tq_concat({dst}, {}, {count}, srcs, {sizes});\n    }}",
                    srcs.join(", "),
                    int(p.outer, "a concatenation outer size")?
                );
            }
            Int16Kernel::Pad { params: p, value } => {
                self.use_kernel("pad_i16", MOVES);
                let src = self.src(input(0)?);
                let mut d = p.input_shape.to_vec();
                d.extend(p.before);
                d.extend(p.output_shape());
                d.extend(strides(&p.input_shape));
                let d = self.dims_array(index, &to_i64(&d))?;
                let value = c_i32(i32::from(*value));
                let _ = writeln!(self.body, "    tq_pad_i16({src}, {dst}, {d}, {value});");
            }
            Int16Kernel::StridedSlice(p) => {
                self.use_kernel("strided_slice_i16", MOVES);
                let src = self.src(input(0)?);
                let in_stride = strides(&p.input_shape);
                let mut d: Vec<i64> = p.counts().iter().map(|&c| c as i64).collect();
                d.extend((0..MAX_DIMS).map(|k| i64::from(p.start[k]) * in_stride[k] as i64));
                d.extend((0..MAX_DIMS).map(|k| i64::from(p.stride[k]) * in_stride[k] as i64));
                let d = self.dims_array(index, &d)?;
                let _ = writeln!(self.body, "    tq_strided_slice_i16({src}, {dst}, {d});");
            }
            Int16Kernel::TransposeConv { params: p, weights } => {
                self.use_wide_layer("transpose_conv_16x8");
                let src = self.src(input(0)?);
                let mut fields = vec![vec![self.wide_weights(index, weights)?]];
                fields.extend([
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                        ("out_c", p.output_channels),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    vec![
                        Field::int("act_min", p.act_min),
                        Field::int("act_max", p.act_max),
                    ],
                ]);
                let params = self.params_struct(index, "tq_transpose_conv_16x8_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_transpose_conv_16x8(&{params}, {src}, {dst});"
                );
            }
        }
        Ok(())
    }

    /// A step's int16 interpolation table, as a `static const` array.
    fn lut16(&mut self, step: usize, what: &str, table: &[i16]) -> String {
        let name = format!("tq_step{step}_{what}");
        let values: Vec<String> = table.iter().map(|&v| c_i32(i32::from(v))).collect();
        let _ = writeln!(
            self.constants,
            "static const int16_t {name}[{}] = {{{}}};",
            table.len(),
            values.join(", ")
        );
        name
    }

    /// The dims array of an int16 binary op: the output shape, then both
    /// inputs' strides over it (0 on broadcast axes); same shapes as one
    /// axis of every element.
    fn binary_dims(
        &mut self,
        index: usize,
        broadcast: Option<&WideBroadcast>,
        out_len: usize,
    ) -> Result<String, EmitError> {
        let flat: Shape = {
            let mut s = [1; MAX_DIMS];
            s[MAX_DIMS - 1] = out_len / 2;
            s
        };
        let (shape, s1, s2) = match broadcast {
            None => (flat, strides(&flat), strides(&flat)),
            Some(b) => {
                let bad = |e| EmitError::InvalidStep {
                    step: index,
                    kernel: "int16 binary op",
                    why: format!("{e}"),
                };
                (
                    b.out_shape,
                    broadcast_strides(&b.shape1, &b.out_shape).map_err(bad)?,
                    broadcast_strides(&b.shape2, &b.out_shape).map_err(bad)?,
                )
            }
        };
        let mut d = shape.to_vec();
        d.extend(s1);
        d.extend(s2);
        self.dims_array(index, &to_i64(&d))
    }
}
