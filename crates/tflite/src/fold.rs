//! A small constant evaluator for int32/int64 shape arithmetic.
//!
//! Keras 3 writes `Flatten` and `Reshape` as `SHAPE -> STRIDED_SLICE -> PACK
//! -> RESHAPE` (sometimes with CONCATENATION or GATHER on int32). Shapes are
//! static in tinyq, so SHAPE is a constant, and so is every op above whose
//! inputs are all constant. Folding them lets RESHAPE's shape input become a
//! constant that the op mapping drops.

#![forbid(unsafe_code)]

use tinyq_ir::tensor::{checked_product, shape_string};
use tinyq_ir::{DType, Tensor};

use crate::limits::MAX_FOLD_ELEMENTS;
use crate::schema::fb;

/// An integer constant: static shape and values widened to i64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IntConst {
    pub shape: Vec<usize>,
    pub values: Vec<i64>,
}

impl IntConst {
    /// The values of an int32/int64 constant tensor.
    pub(crate) fn of(t: &Tensor) -> Option<IntConst> {
        let data = t.data.as_ref()?;
        let values: Vec<i64> = match t.dtype {
            DType::I32 => data
                .chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            DType::I64 => data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
            _ => return None,
        };
        Some(IntConst {
            shape: t.shape.clone(),
            values,
        })
    }

    /// Little-endian bytes in `dtype` (int32 or int64), `None` if a value
    /// does not fit.
    pub(crate) fn encode(&self, dtype: DType) -> Option<Vec<u8>> {
        match dtype {
            DType::I32 => {
                let mut out = Vec::with_capacity(self.values.len() * 4);
                for &v in &self.values {
                    out.extend_from_slice(&i32::try_from(v).ok()?.to_le_bytes());
                }
                Some(out)
            }
            DType::I64 => Some(self.values.iter().flat_map(|v| v.to_le_bytes()).collect()),
            _ => None,
        }
    }
}

/// What the evaluator needs to know about an op.
#[derive(Debug)]
pub(crate) struct FoldOp<'a> {
    pub code: fb::BuiltinOperator,
    /// The op's inputs (`None` for an absent optional input).
    pub inputs: Vec<Option<&'a Tensor>>,
    /// The single output.
    pub output: &'a Tensor,
    /// Builtin options (only PACK, CONCATENATION, STRIDED_SLICE and GATHER
    /// options matter).
    pub options: Option<fb::BuiltinOptionsRef<'a>>,
}

/// Whether `code` is an op the evaluator knows.
pub(crate) fn is_foldable_kind(code: fb::BuiltinOperator) -> bool {
    use fb::BuiltinOperator as B;
    matches!(
        code,
        B::Shape
            | B::StridedSlice
            | B::Pack
            | B::Concatenation
            | B::Reshape
            | B::Squeeze
            | B::ExpandDims
            | B::Gather
    )
}

/// Evaluates `op` if it produces an int32/int64 value computable now:
/// `Ok(None)` when it is not (data inputs, a feature the evaluator lacks),
/// `Err` when its constant inputs are inconsistent.
pub(crate) fn fold(op: &FoldOp<'_>) -> Result<Option<IntConst>, String> {
    use fb::BuiltinOperator as B;
    if !is_foldable_kind(op.code) || !matches!(op.output.dtype, DType::I32 | DType::I64) {
        return Ok(None);
    }
    let Some(out_elems) = op.output.num_elements() else {
        return Ok(None);
    };
    // Input 0 is the data (or the shape's tensor) of every foldable op.
    if out_elems > MAX_FOLD_ELEMENTS || !matches!(op.inputs.first(), Some(Some(_))) {
        return Ok(None);
    }
    let value = if op.code == B::Shape {
        let Some(Some(input)) = op.inputs.first() else {
            return Err("SHAPE needs an input".into());
        };
        IntConst {
            shape: vec![input.shape.len()],
            values: input.shape.iter().map(|&d| d as i64).collect(),
        }
    } else {
        // Every present input must be constant.
        let mut consts = Vec::with_capacity(op.inputs.len());
        for t in op.inputs.iter().flatten() {
            match IntConst::of(t) {
                Some(c) => consts.push(c),
                None => return Ok(None),
            }
        }
        if consts.is_empty() {
            return Ok(None);
        }
        match op.code {
            B::Reshape | B::Squeeze | B::ExpandDims => IntConst {
                shape: op.output.shape.clone(),
                values: consts.swap_remove(0).values,
            },
            B::Pack => {
                let axis = match op.options {
                    Some(fb::BuiltinOptionsRef::PackOptions(o)) => o.axis().unwrap_or(0),
                    _ => 0,
                };
                pack(&consts, axis)?
            }
            B::Concatenation => {
                let axis = match op.options {
                    Some(fb::BuiltinOptionsRef::ConcatenationOptions(o)) => o.axis().unwrap_or(0),
                    _ => 0,
                };
                concat(&consts, axis)?
            }
            B::StridedSlice => {
                let Some(fb::BuiltinOptionsRef::StridedSliceOptions(o)) = op.options else {
                    return Ok(None);
                };
                let masks = SliceMasks {
                    begin: o.begin_mask().unwrap_or(0),
                    end: o.end_mask().unwrap_or(0),
                    shrink: o.shrink_axis_mask().unwrap_or(0),
                    offset: o.offset().unwrap_or(false),
                };
                if o.ellipsis_mask().unwrap_or(0) != 0 || o.new_axis_mask().unwrap_or(0) != 0 {
                    return Ok(None);
                }
                let [input, begin, end, strides] = &consts[..] else {
                    return Err("STRIDED_SLICE needs 4 inputs".into());
                };
                strided_slice(input, &begin.values, &end.values, &strides.values, masks)?
            }
            B::Gather => {
                let (axis, batch_dims) = match op.options {
                    Some(fb::BuiltinOptionsRef::GatherOptions(o)) => {
                        (o.axis().unwrap_or(0), o.batch_dims().unwrap_or(0))
                    }
                    _ => (0, 0),
                };
                if batch_dims != 0 {
                    return Ok(None);
                }
                let [params, indices] = &consts[..] else {
                    return Err("GATHER needs 2 inputs".into());
                };
                gather(params, indices, axis)?
            }
            _ => return Ok(None),
        }
    };
    if value.values.len() != out_elems || value.shape != op.output.shape {
        return Err(format!(
            "its constant result has shape {}, but output {:?} is declared {}",
            shape_string(&value.shape),
            op.output.name,
            shape_string(&op.output.shape)
        ));
    }
    Ok(Some(value))
}

/// `axis` in `-rank..rank` (or `-rank-1..=rank` when `inclusive`), normalized.
fn norm_axis(axis: i32, rank: usize, inclusive: bool) -> Result<usize, String> {
    let n = rank as i64 + i64::from(inclusive);
    let a = if axis < 0 {
        i64::from(axis) + n
    } else {
        i64::from(axis)
    };
    if (0..n).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} is out of range for rank {rank}"))
    }
}

/// Product of `dims`, refusing anything over the folding cap.
fn elems(dims: &[usize]) -> Result<usize, String> {
    checked_product(dims)
        .filter(|&n| n <= MAX_FOLD_ELEMENTS)
        .ok_or_else(|| "constant too large to fold".to_owned())
}

fn pack(inputs: &[IntConst], axis: i32) -> Result<IntConst, String> {
    let first = &inputs[0];
    if inputs.iter().any(|c| c.shape != first.shape) {
        return Err("PACK inputs have different shapes".into());
    }
    let axis = norm_axis(axis, first.shape.len(), true)?;
    let outer = elems(&first.shape[..axis])?;
    let inner = elems(&first.shape[axis..])?;
    let mut shape = first.shape.clone();
    shape.insert(axis, inputs.len());
    elems(&shape)?;
    let mut values = Vec::new();
    for o in 0..outer {
        for c in inputs {
            values.extend_from_slice(&c.values[o * inner..(o + 1) * inner]);
        }
    }
    Ok(IntConst { shape, values })
}

fn concat(inputs: &[IntConst], axis: i32) -> Result<IntConst, String> {
    let first = &inputs[0];
    let rank = first.shape.len();
    let axis = norm_axis(axis, rank, false)?;
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for c in inputs {
        let same_rest = c.shape.len() == rank
            && c.shape
                .iter()
                .zip(&first.shape)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        if !same_rest {
            return Err("CONCATENATION inputs have incompatible shapes".into());
        }
        shape[axis] = shape[axis]
            .checked_add(c.shape[axis])
            .ok_or("CONCATENATION size overflows")?;
    }
    elems(&shape)?;
    let outer = elems(&first.shape[..axis])?;
    let mut values = Vec::new();
    for o in 0..outer {
        for c in inputs {
            let inner = elems(&c.shape[axis..])?;
            values.extend_from_slice(&c.values[o * inner..(o + 1) * inner]);
        }
    }
    Ok(IntConst { shape, values })
}

fn gather(params: &IntConst, indices: &IntConst, axis: i32) -> Result<IntConst, String> {
    let axis = norm_axis(axis, params.shape.len(), false)?;
    let dim = params.shape[axis];
    let outer = elems(&params.shape[..axis])?;
    let inner = elems(&params.shape[axis + 1..])?;
    let mut shape = params.shape[..axis].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&params.shape[axis + 1..]);
    elems(&shape)?;
    let mut values = Vec::new();
    for o in 0..outer {
        for &i in &indices.values {
            let i = usize::try_from(i)
                .ok()
                .filter(|&i| i < dim)
                .ok_or_else(|| format!("GATHER index {i} is out of range 0..{dim}"))?;
            let start = (o * dim + i) * inner;
            values.extend_from_slice(&params.values[start..start + inner]);
        }
    }
    Ok(IntConst { shape, values })
}

/// STRIDED_SLICE masks the evaluator handles (ellipsis and new-axis masks
/// are left to the runtime op).
#[derive(Debug, Clone, Copy)]
struct SliceMasks {
    begin: i32,
    end: i32,
    shrink: i32,
    offset: bool,
}

/// TFLM's `StridedSliceStartForAxis`/`StridedSliceEndForAxis`
/// (`strided_slice_logic.h`), with missing trailing axes taken whole.
fn strided_slice(
    input: &IntConst,
    begin: &[i64],
    end: &[i64],
    strides: &[i64],
    masks: SliceMasks,
) -> Result<IntConst, String> {
    let rank = input.shape.len();
    let n = begin.len();
    if end.len() != n || strides.len() != n || n > rank {
        return Err(format!(
            "begin/end/strides have lengths {}/{}/{} for an input of rank {rank}",
            n,
            end.len(),
            strides.len()
        ));
    }
    let bit = |mask: i32, axis: usize| axis < 32 && mask & (1 << axis) != 0;
    // Per axis: (start, stride, count, kept).
    let mut axes = Vec::with_capacity(rank);
    for (axis, &size) in input.shape.iter().enumerate() {
        let size = size as i64;
        if axis >= n {
            axes.push((0, 1, size, true));
            continue;
        }
        let stride = strides[axis];
        if stride == 0 {
            return Err("STRIDED_SLICE stride is 0".into());
        }
        let clamp = |v: i64| {
            if stride > 0 {
                v.clamp(0, size)
            } else {
                v.clamp(-1, size - 1)
            }
        };
        let mut start = begin[axis];
        if start < 0 {
            start += size;
        }
        start = clamp(start);
        if bit(masks.begin, axis) {
            start = if stride > 0 { 0 } else { size - 1 };
        }
        let stop = if bit(masks.shrink, axis) {
            if start >= size { start } else { start + 1 }
        } else {
            let mut stop = end[axis];
            if masks.offset {
                stop = stop.saturating_add(start);
            }
            if stop < 0 {
                stop += size;
            }
            stop = clamp(stop);
            if bit(masks.end, axis) {
                stop = if stride > 0 { size } else { -1 };
            }
            stop
        };
        let span = if stride > 0 {
            stop - start
        } else {
            start - stop
        };
        let count = if span <= 0 {
            0
        } else {
            (span + stride.abs() - 1) / stride.abs()
        };
        axes.push((start, stride, count, !bit(masks.shrink, axis)));
    }
    let shape: Vec<usize> = axes.iter().filter(|a| a.3).map(|a| a.2 as usize).collect();
    let total = elems(&axes.iter().map(|a| a.2 as usize).collect::<Vec<_>>())?;
    if total == 0 {
        // (Also keeps the stride products below from overflowing on shapes
        // like [0, 2^31, 2^31].)
        return Ok(IntConst {
            shape,
            values: Vec::new(),
        });
    }
    // Row-major strides of the input.
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * input.shape[i + 1];
    }
    let mut values = Vec::with_capacity(total);
    let mut idx = vec![0i64; rank];
    for _ in 0..total {
        let mut flat = 0usize;
        for (a, &(start, stride, _, _)) in axes.iter().enumerate() {
            flat += (start + idx[a] * stride) as usize * in_strides[a];
        }
        values.push(input.values[flat]);
        for a in (0..rank).rev() {
            idx[a] += 1;
            if idx[a] < axes[a].2 {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(IntConst { shape, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(shape: &[usize], values: &[i64]) -> IntConst {
        IntConst {
            shape: shape.to_vec(),
            values: values.to_vec(),
        }
    }

    const NO_MASKS: SliceMasks = SliceMasks {
        begin: 0,
        end: 0,
        shrink: 0,
        offset: false,
    };

    #[test]
    fn keras_flatten_batch_slice() {
        // strided_slice(shape=[1,5,5,4], [0], [1], [1], shrink_axis_mask=1) -> scalar 1
        let s = c(&[4], &[1, 5, 5, 4]);
        let masks = SliceMasks {
            shrink: 1,
            ..NO_MASKS
        };
        let r = strided_slice(&s, &[0], &[1], &[1], masks).expect("slice");
        assert_eq!(r, c(&[], &[1]));
        // pack(1, 100) -> [1, 100]
        let p = pack(&[c(&[], &[1]), c(&[], &[100])], 0).expect("pack");
        assert_eq!(p, c(&[2], &[1, 100]));
    }

    #[test]
    fn strided_slice_masks_and_negative() {
        let s = c(&[4], &[1, 5, 6, 7]);
        // s[1:] via end_mask
        let masks = SliceMasks { end: 1, ..NO_MASKS };
        let r = strided_slice(&s, &[1], &[0], &[1], masks).expect("slice");
        assert_eq!(r, c(&[3], &[5, 6, 7]));
        // s[-1]
        let masks = SliceMasks {
            shrink: 1,
            ..NO_MASKS
        };
        let r = strided_slice(&s, &[-1], &[0], &[1], masks).expect("slice");
        assert_eq!(r, c(&[], &[7]));
        // s[::-2]
        let masks = SliceMasks {
            begin: 1,
            end: 1,
            ..NO_MASKS
        };
        let r = strided_slice(&s, &[0], &[0], &[-2], masks).expect("slice");
        assert_eq!(r, c(&[2], &[7, 5]));
        // offset: begin 1, length 2
        let masks = SliceMasks {
            offset: true,
            ..NO_MASKS
        };
        let r = strided_slice(&s, &[1], &[2], &[1], masks).expect("slice");
        assert_eq!(r, c(&[2], &[5, 6]));
        // 2-D, second axis implicit
        let m = c(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let r = strided_slice(&m, &[1], &[2], &[1], NO_MASKS).expect("slice");
        assert_eq!(r, c(&[1, 3], &[4, 5, 6]));
        assert!(strided_slice(&s, &[0], &[1], &[0], NO_MASKS).is_err());
        // Empty axes with huge neighbours: nothing to read, no overflow.
        let empty = c(&[0, 1 << 31, 1 << 31], &[]);
        let r = strided_slice(&empty, &[0], &[1], &[1], NO_MASKS).expect("slice");
        assert_eq!(r.values, Vec::<i64>::new());
    }

    #[test]
    fn concat_pack_gather() {
        let r = concat(&[c(&[1], &[-1]), c(&[2], &[7, 8])], 0).expect("concat");
        assert_eq!(r, c(&[3], &[-1, 7, 8]));
        let r = concat(&[c(&[2, 1], &[1, 2]), c(&[2, 2], &[3, 4, 5, 6])], -1).expect("concat");
        assert_eq!(r, c(&[2, 3], &[1, 3, 4, 2, 5, 6]));
        assert!(concat(&[c(&[2, 1], &[1, 2]), c(&[3, 1], &[3, 4, 5])], 1).is_err());
        let r = pack(&[c(&[2], &[1, 2]), c(&[2], &[3, 4])], 1).expect("pack");
        assert_eq!(r, c(&[2, 2], &[1, 3, 2, 4]));
        assert!(pack(&[c(&[2], &[1, 2]), c(&[1], &[3])], 0).is_err());
        let r = gather(&c(&[4], &[1, 5, 6, 7]), &c(&[2], &[3, 0]), 0).expect("gather");
        assert_eq!(r, c(&[2], &[7, 1]));
        assert!(gather(&c(&[4], &[1, 5, 6, 7]), &c(&[1], &[4]), 0).is_err());
        assert!(gather(&c(&[4], &[1, 5, 6, 7]), &c(&[1], &[-1]), 0).is_err());
    }

    #[test]
    fn encode_roundtrip() {
        let v = c(&[2], &[1, -100]);
        let t = Tensor {
            data: v.encode(DType::I32),
            ..Tensor::new("t", vec![2], DType::I32)
        };
        assert_eq!(IntConst::of(&t), Some(v));
        assert_eq!(c(&[1], &[1 << 40]).encode(DType::I32), None);
    }
}
