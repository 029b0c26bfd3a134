//! The C of float32 steps (`templates/c/kernels/float.c.tera`). Layout-only
//! float steps (concatenation, transpose, strided slice) reuse the byte
//! kernels on the float bytes: a float tensor is a byte tensor with one more
//! axis of 4, kept whole.

use std::fmt::Write as _;

use tinyq_ir::float_kernel::{Filter, FloatWeights};
use tinyq_ir::{FloatKernel, Step};
use tinyq_kernels::float_elementwise::{BinaryF32, UnaryF32};
use tinyq_kernels::shape::{MAX_DIMS, Shape, broadcast_strides, strides};
use tinyq_kernels::transpose::TransposeParams;

use super::{Field, Writer, c_f32, dims, int, to_i64};
use crate::EmitError;

/// `ops` as C float literals.
fn floats(values: &[f32]) -> Result<Vec<String>, String> {
    values.iter().map(|&v| c_f32(v)).collect()
}

/// The transpose of a float tensor as one of its bytes: the leading
/// (padding) axis dropped, an axis of 4 bytes appended and kept last.
fn bytes_transpose(p: &TransposeParams) -> Option<TransposeParams> {
    if p.input_shape[0] != 1 || p.perm[0] != 0 {
        return None;
    }
    let mut input_shape = [4usize; MAX_DIMS];
    let mut perm = [MAX_DIMS - 1; MAX_DIMS];
    for d in 0..MAX_DIMS - 1 {
        input_shape[d] = p.input_shape[d + 1];
        perm[d] = p.perm[d + 1].checked_sub(1)?;
    }
    Some(TransposeParams { input_shape, perm })
}

impl Writer<'_> {
    /// `static const float tq_stepN_WHAT[] = {...};`, returns its name.
    pub(super) fn float_array(
        &mut self,
        step: usize,
        what: &str,
        values: &[f32],
    ) -> Result<String, String> {
        let name = format!("tq_step{step}_{what}");
        let lits = floats(values)?;
        let mut body = String::new();
        for (i, chunk) in lits.chunks(6).enumerate() {
            if i > 0 {
                body.push_str(",\n");
            }
            body.push_str("    ");
            body.push_str(&chunk.join(", "));
        }
        if lits.is_empty() {
            body.push_str("    0.0f");
        }
        let _ = writeln!(
            self.constants,
            "static const float {name}[{}] = {{\n{body}}};",
            values.len().max(1)
        );
        self.const_bytes += 4 * values.len();
        Ok(name)
    }

    /// The filter (float, or int8 and its scales) and bias members.
    fn float_weights(&mut self, step: usize, w: &FloatWeights) -> Result<Vec<Field>, String> {
        let mut fields = match &w.filter {
            Filter::F32(values) => {
                vec![Field::pointer(
                    "filter",
                    self.float_array(step, "filter", values)?,
                )]
            }
            Filter::Int8 { values, scales } => {
                let f = format!("tq_step{step}_filter");
                let ints: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
                self.aligned_i8_array(&f, &ints);
                let s = self.float_array(step, "scales", scales)?;
                vec![
                    Field::pointer("filter", format!("{f}.v")),
                    Field::pointer("scales", s),
                ]
            }
        };
        let b = match &w.bias {
            Some(bias) => self.float_array(step, "bias", bias)?,
            None => "NULL".to_string(),
        };
        fields.push(Field::pointer("bias", b));
        Ok(fields)
    }

    fn act_fields(min: f32, max: f32) -> Result<Vec<Field>, String> {
        Ok(vec![
            Field::new("act_min", c_f32(min)?, 4),
            Field::new("act_max", c_f32(max)?, 4),
        ])
    }

    /// Writes one float32 step.
    pub(super) fn float_step(
        &mut self,
        index: usize,
        kernel: &FloatKernel,
        step: &Step,
        in_lens: &[usize],
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
        // Layout steps move bytes with the int8 kernels; the rest compute.
        let computes = !matches!(
            kernel,
            FloatKernel::Concat(_)
                | FloatKernel::Transpose(_)
                | FloatKernel::StridedSlice(_)
                | FloatKernel::ResizeNearest(_)
                | FloatKernel::Gather { .. }
        );
        if computes {
            self.use_kernel("float", &["load_f32", "store_f32"]);
        }
        let n = int(out_len / 4, "an element count")?;
        match kernel {
            FloatKernel::Svdf { .. } | FloatKernel::Lstm { .. } => {
                return Err(invalid("is stateful: written by stateful_step".to_string()));
            }
            FloatKernel::Conv2D { params: p, weights } => {
                self.use_kernel(name, &[]);
                let src = self.src(input(0)?);
                let fields = [
                    self.float_weights(index, weights).map_err(invalid)?,
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[
                        ("k_h", p.filter_height),
                        ("k_w", p.filter_width),
                        ("f_c", p.filter_input_channels),
                    ])?,
                    dims(&[
                        ("out_h", p.output_height),
                        ("out_w", p.output_width),
                        ("out_c", p.output_channels),
                    ])?,
                    dims(&[
                        ("stride_h", p.stride_height),
                        ("stride_w", p.stride_width),
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    Self::act_fields(p.act_min, p.act_max).map_err(invalid)?,
                ];
                let params = self.params_struct(index, &format!("tq_{name}_params"), &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {src}, {dst});");
            }
            FloatKernel::DepthwiseConv2D { params: p, weights } => {
                self.use_kernel(name, &[]);
                let src = self.src(input(0)?);
                let fields = [
                    self.float_weights(index, weights).map_err(invalid)?,
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                        ("depth_mult", p.depth_multiplier),
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
                        ("dil_h", p.dilation_height),
                        ("dil_w", p.dilation_width),
                        ("pad_top", p.pad_top),
                        ("pad_left", p.pad_left),
                    ])?,
                    Self::act_fields(p.act_min, p.act_max).map_err(invalid)?,
                ];
                let params = self.params_struct(index, &format!("tq_{name}_params"), &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {src}, {dst});");
            }
            FloatKernel::FullyConnected { params: p, weights } => {
                self.use_kernel(name, &[]);
                let src = self.src(input(0)?);
                let fields = [
                    self.float_weights(index, weights).map_err(invalid)?,
                    dims(&[
                        ("batches", p.batches),
                        ("depth", p.accum_depth),
                        ("out_depth", p.output_depth),
                    ])?,
                    Self::act_fields(p.act_min, p.act_max).map_err(invalid)?,
                ];
                let params = self.params_struct(index, &format!("tq_{name}_params"), &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {src}, {dst});");
            }
            FloatKernel::AveragePool(p) | FloatKernel::MaxPool(p) => {
                self.use_kernel("pool_f32", &[]);
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
                    Self::act_fields(p.act_min, p.act_max).map_err(invalid)?,
                ];
                let params = self.params_struct(index, "tq_pool_f32_params", &fields);
                let average = i32::from(matches!(kernel, FloatKernel::AveragePool(_)));
                let _ = writeln!(
                    self.body,
                    "    tq_pool_f32(&{params}, {src}, {dst}, {average});"
                );
            }
            FloatKernel::Binary { op, broadcast } => {
                self.use_kernel("binary_f32", &[]);
                let (code, (lo, hi)) = match *op {
                    BinaryF32::Add { act_min, act_max } => (0, (act_min, act_max)),
                    BinaryF32::Sub { act_min, act_max } => (1, (act_min, act_max)),
                    BinaryF32::Mul { act_min, act_max } => (2, (act_min, act_max)),
                    BinaryF32::Maximum => (3, (f32::MIN, f32::MAX)),
                    BinaryF32::Minimum => (4, (f32::MIN, f32::MAX)),
                    BinaryF32::Prelu => (5, (f32::MIN, f32::MAX)),
                    BinaryF32::Div { act_min, act_max } => (6, (act_min, act_max)),
                    BinaryF32::SquaredDifference => (7, (f32::MIN, f32::MAX)),
                };
                let mut fields = vec![Field::int("op", code)];
                fields.extend(Self::act_fields(lo, hi).map_err(invalid)?);
                let params = self.params_struct(index, "tq_binary_f32_params", &[fields]);
                let a = self.src(input(0)?);
                let b = self.src(input(1)?);
                match broadcast {
                    Some(s) => {
                        let s1 = broadcast_strides(&s.shape1, &s.out_shape)
                            .map_err(|e| invalid(e.to_string()))?;
                        let s2 = broadcast_strides(&s.shape2, &s.out_shape)
                            .map_err(|e| invalid(e.to_string()))?;
                        let mut d = s.out_shape.to_vec();
                        d.extend(s1);
                        d.extend(s2);
                        let d = self.dims_array(index, &to_i64(&d))?;
                        self.use_kernel("binary_f32_bcast", &[]);
                        let _ = writeln!(
                            self.body,
                            "    tq_binary_f32_bcast(&{params}, {a}, {b}, {dst}, {d});"
                        );
                    }
                    None => {
                        self.use_kernel("binary_f32_same", &[]);
                        let _ = writeln!(
                            self.body,
                            "    tq_binary_f32(&{params}, {a}, {b}, {dst}, {n});"
                        );
                    }
                }
            }
            FloatKernel::Unary(op) => {
                self.use_kernel("unary_f32", &[]);
                if op.needs_libm() {
                    self.use_kernel("libm", &[]);
                }
                let (code, alpha) = match *op {
                    UnaryF32::Relu => (0, 0.0),
                    UnaryF32::Relu6 => (1, 0.0),
                    UnaryF32::ReluN1To1 => (2, 0.0),
                    UnaryF32::LeakyRelu { alpha } => (3, alpha),
                    UnaryF32::HardSwish => (4, 0.0),
                    UnaryF32::Logistic => (5, 0.0),
                    UnaryF32::Tanh => (6, 0.0),
                    UnaryF32::Exp => (7, 0.0),
                    UnaryF32::Log => (8, 0.0),
                    UnaryF32::Sqrt => (9, 0.0),
                    UnaryF32::Abs => (10, 0.0),
                    UnaryF32::Neg => (11, 0.0),
                    UnaryF32::Square => (12, 0.0),
                    UnaryF32::Rsqrt => (13, 0.0),
                };
                let alpha = c_f32(alpha).map_err(invalid)?;
                let src = self.src(input(0)?);
                let _ = writeln!(
                    self.body,
                    "    tq_unary_f32({code}, {alpha}, {src}, {dst}, {n}); /* {name} */"
                );
            }
            FloatKernel::Softmax(p) => {
                self.use_kernel("softmax_f32", &[]);
                self.use_kernel("libm", &[]);
                let src = self.src(input(0)?);
                let beta = c_f32(p.beta).map_err(invalid)?;
                let _ = writeln!(
                    self.body,
                    "    tq_softmax_f32({src}, {dst}, {}, {}, {beta});",
                    int(p.outer, "a softmax size")?,
                    int(p.depth, "a softmax size")?
                );
            }
            FloatKernel::Mean(p) => {
                self.use_kernel("mean_f32", &[]);
                let src = self.src(input(0)?);
                let mut outer: Shape = p.input_shape;
                let mut reduced: Shape = [1; MAX_DIMS];
                for d in 0..MAX_DIMS {
                    if p.reduce[d] {
                        outer[d] = 1;
                        reduced[d] = p.input_shape[d];
                    }
                }
                let count = reduced.iter().product::<usize>() as f32;
                let fields = [
                    vec![Field::array("outer", &outer)?],
                    vec![Field::array("reduced", &reduced)?],
                    vec![Field::array("stride", &strides(&p.input_shape))?],
                    vec![Field::new("count", c_f32(count).map_err(invalid)?, 4)],
                ];
                let params = self.params_struct(index, "tq_mean_f32_params", &fields);
                let _ = writeln!(self.body, "    tq_mean_f32(&{params}, {src}, {dst});");
            }
            FloatKernel::Pad { params: p, value } => {
                self.use_kernel("pad_f32", &[]);
                let src = self.src(input(0)?);
                let mut d = p.input_shape.to_vec();
                d.extend(p.before);
                d.extend(p.output_shape());
                d.extend(strides(&p.input_shape));
                let d = self.dims_array(index, &to_i64(&d))?;
                let value = c_f32(*value).map_err(invalid)?;
                let _ = writeln!(self.body, "    tq_pad_f32({src}, {dst}, {d}, {value});");
            }
            FloatKernel::Concat(p) => {
                // Byte blocks: the int8 kernel with the byte sizes.
                self.use_kernel("concat", &[]);
                if p.outer == 0 {
                    return Err(invalid("concatenation with no outer blocks".to_string()));
                }
                let mut srcs = Vec::new();
                let mut sizes = Vec::new();
                for (k, &len) in in_lens.iter().enumerate() {
                    srcs.push(self.src(input(k)?));
                    sizes.push(i64::from(int(len / p.outer, "a concatenation block")?));
                }
                let count = srcs.len();
                let sizes = self.int_array(index, "sizes", &sizes);
                let _ = writeln!(
                    self.body,
                    "    {{\n        const int8_t *const srcs[{count}] = {{{}}};\n        tq_concat((int8_t *)({dst}), {}, {count}, srcs, {sizes});\n    }}",
                    srcs.iter()
                        .map(|s| format!("(const int8_t *)({s})"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    int(p.outer, "a concatenation outer size")?
                );
            }
            FloatKernel::Transpose(p) => {
                let q = bytes_transpose(p)
                    .ok_or_else(|| invalid("a 6-D float transpose is not supported".into()))?;
                self.use_kernel("transpose", &[]);
                let src = self.src(input(0)?);
                let in_stride = strides(&q.input_shape);
                let mut d = q.output_shape().to_vec();
                d.extend((0..MAX_DIMS).map(|k| in_stride[q.perm[k]]));
                let d = self.dims_array(index, &to_i64(&d))?;
                let _ = writeln!(
                    self.body,
                    "    tq_transpose((const int8_t *)({src}), (int8_t *)({dst}), {d});"
                );
            }
            FloatKernel::ResizeBilinear(p) => {
                self.use_kernel(name, &[]);
                let src = self.src(input(0)?);
                let g = &p.geometry;
                let fields = [
                    dims(&[
                        ("batches", g.batches),
                        ("in_h", g.input_height),
                        ("in_w", g.input_width),
                        ("channels", g.channels),
                        ("out_h", g.output_height),
                        ("out_w", g.output_width),
                    ])?,
                    vec![
                        Field::new("scale_h", c_f32(p.height_scale).map_err(invalid)?, 4),
                        Field::new("scale_w", c_f32(p.width_scale).map_err(invalid)?, 4),
                        Field::int("half_pixel_centers", i32::from(p.half_pixel_centers)),
                    ],
                ];
                let params = self.params_struct(index, &format!("tq_{name}_params"), &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {src}, {dst});");
            }
            FloatKernel::ResizeNearest(p) => {
                // Whole floats moved by the int8 kernel: 4 bytes per channel.
                self.use_kernel("resize_nearest", &[]);
                let src = self.src(input(0)?);
                let g = &p.geometry;
                let byte_channels = g
                    .channels
                    .checked_mul(4)
                    .ok_or_else(|| invalid("too many channels".into()))?;
                let fields = [
                    dims(&[
                        ("batches", g.batches),
                        ("in_h", g.input_height),
                        ("in_w", g.input_width),
                        ("channels", byte_channels),
                        ("out_h", g.output_height),
                        ("out_w", g.output_width),
                    ])?,
                    vec![
                        Field::new("scale_h", c_f32(p.height_scale).map_err(invalid)?, 4),
                        Field::new("scale_w", c_f32(p.width_scale).map_err(invalid)?, 4),
                        Field::int("align_corners", i32::from(p.align_corners)),
                        Field::int("half_pixel_centers", i32::from(p.half_pixel_centers)),
                    ],
                ];
                let params = self.params_struct(index, "tq_resize_nearest_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_resize_nearest(&{params}, (const int8_t *)({src}), (int8_t *)({dst}));"
                );
            }
            FloatKernel::TransposeConv { params: p, weights } => {
                self.use_kernel(name, &[]);
                let src = self.src(input(0)?);
                let fields = [
                    self.float_weights(index, weights).map_err(invalid)?,
                    dims(&[
                        ("batches", p.batches),
                        ("in_h", p.input_height),
                        ("in_w", p.input_width),
                        ("in_c", p.input_channels),
                    ])?,
                    dims(&[("k_h", p.filter_height), ("k_w", p.filter_width)])?,
                    dims(&[
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
                    Self::act_fields(p.act_min, p.act_max).map_err(invalid)?,
                ];
                let params = self.params_struct(index, &format!("tq_{name}_params"), &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {src}, {dst});");
            }
            FloatKernel::Gather { params, indices } => {
                let src = self.src(input(0)?);
                self.gather_call(index, &src, dst, params, indices, 4)?;
            }
            FloatKernel::BatchMatMul(s) => {
                self.use_kernel(name, &[]);
                let (lhs, rhs) = (self.src(input(0)?), self.src(input(1)?));
                let mut fields = super::batch_matmul_geometry(s)?;
                fields.push(vec![
                    Field::int("lhs_offset", 0),
                    Field::int("rhs_offset", 0),
                    Field::int("output_offset", 0),
                ]);
                fields.push(vec![Field::int("multiplier", 0), Field::int("shift", 0)]);
                let params = self.params_struct(index, "tq_batch_matmul_params", &fields);
                let _ = writeln!(self.body, "    tq_{name}(&{params}, {lhs}, {rhs}, {dst});");
            }
            FloatKernel::StridedSlice(p) => {
                let q = p
                    .over_bytes(4)
                    .ok_or_else(|| invalid("a 6-D float strided slice is not supported".into()))?;
                self.use_kernel("strided_slice", &[]);
                let src = self.src(input(0)?);
                let in_stride = strides(&q.input_shape);
                let mut d: Vec<i64> = q.counts().iter().map(|&c| c as i64).collect();
                d.extend((0..MAX_DIMS).map(|k| i64::from(q.start[k]) * in_stride[k] as i64));
                d.extend((0..MAX_DIMS).map(|k| i64::from(q.stride[k]) * in_stride[k] as i64));
                let d = self.dims_array(index, &d)?;
                let _ = writeln!(
                    self.body,
                    "    tq_strided_slice((const int8_t *)({src}), (int8_t *)({dst}), {d});"
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte view of a float transpose moves the same bytes as the float
    /// transpose moves values.
    #[test]
    fn byte_transpose_moves_whole_floats() {
        let p = tinyq_kernels::transpose::prepare_transpose(&[2, 3], &[1, 0])
            .expect("valid test parameters");
        let q = bytes_transpose(&p).expect("valid test parameters");
        let values: Vec<f32> = (0..6).map(|v| v as f32 + 0.5).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = vec![0.0f32; 6];
        tinyq_kernels::transpose::transpose(&p, &values, &mut out).expect("valid test parameters");
        let mut out_bytes = vec![0u8; 24];
        tinyq_kernels::transpose::transpose(&q, &bytes, &mut out_bytes)
            .expect("valid test parameters");
        let want: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(out_bytes, want);
    }
}
