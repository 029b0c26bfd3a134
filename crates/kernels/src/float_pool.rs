//! AVERAGE_POOL_2D, MAX_POOL_2D and MEAN in float32, in TFLM's float
//! reference order: a pooling window summed (from `0.0`) or maximized (from
//! float's lowest) over its rows then columns clipped to the image, the
//! average as `sum / count` with the count in float, then the clamp; MEAN
//! as each output's float sum over its reduced positions in row-major order
//! divided by their number.

use crate::error::{KernelError, check_len};
use crate::float_math::FloatRange;
use crate::pooling::PoolParams;
use crate::reduce::for_each_offset;
use crate::shape::{MAX_DIMS, Shape, num_elements, strides};

/// Geometry and activation clamp of one float pooling op (the fields as in
/// [`PoolParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolF32Params {
    pub batches: usize,
    pub input_height: usize,
    pub input_width: usize,
    pub channels: usize,
    pub filter_height: usize,
    pub filter_width: usize,
    pub output_height: usize,
    pub output_width: usize,
    pub stride_height: usize,
    pub stride_width: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub act_min: f32,
    pub act_max: f32,
}

impl PoolF32Params {
    /// The geometry as the int8 parameters, whose checks it shares.
    fn geometry(&self) -> PoolParams {
        PoolParams {
            batches: self.batches,
            input_height: self.input_height,
            input_width: self.input_width,
            channels: self.channels,
            filter_height: self.filter_height,
            filter_width: self.filter_width,
            output_height: self.output_height,
            output_width: self.output_width,
            stride_height: self.stride_height,
            stride_width: self.stride_width,
            pad_top: self.pad_top,
            pad_left: self.pad_left,
            act_min: -128,
            act_max: 127,
        }
    }

    /// Everything [`max_pool_f32`] checks.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let act = FloatRange {
            min: self.act_min,
            max: self.act_max,
        };
        if !act.is_valid() {
            return Err(KernelError::InvalidParams(
                "activation range must satisfy min <= max",
            ));
        }
        self.geometry().check(input, output)
    }

    /// Everything [`average_pool_f32`] checks: also no window entirely in
    /// the padding (TFLM fails there).
    pub fn check_average(&self, input: usize, output: usize) -> Result<(), KernelError> {
        self.check(input, output)?;
        self.geometry().check_average(input, output)
    }
}

/// The window's input rows or columns `start..end`, clipped to the image.
#[inline(always)]
fn clip(out: usize, stride: usize, pad: usize, k: usize, size: usize) -> (usize, usize) {
    let raw = out * stride;
    let start = raw.max(pad) - pad;
    let end = raw.saturating_add(k).max(pad) - pad;
    (start.min(size), end.min(size))
}

fn pool(
    p: &PoolF32Params,
    input: &[f32],
    output: &mut [f32],
    average: bool,
) -> Result<(), KernelError> {
    let (ih, iw, c) = (p.input_height, p.input_width, p.channels);
    let act = FloatRange {
        min: p.act_min,
        max: p.act_max,
    };
    let mut out = output.iter_mut();
    for b in 0..p.batches {
        for oy in 0..p.output_height {
            let (y0, y1) = clip(oy, p.stride_height, p.pad_top, p.filter_height, ih);
            for ox in 0..p.output_width {
                let (x0, x1) = clip(ox, p.stride_width, p.pad_left, p.filter_width, iw);
                for ch in 0..c {
                    let value = if average {
                        let mut total = 0.0f32;
                        let mut count = 0.0f32;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                total += input[((b * ih + y) * iw + x) * c + ch];
                                count += 1.0;
                            }
                        }
                        total / count
                    } else {
                        let mut max = f32::MIN;
                        for y in y0..y1 {
                            for x in x0..x1 {
                                let v = input[((b * ih + y) * iw + x) * c + ch];
                                // std::max(max, v): `max < v ? v : max`.
                                if max < v {
                                    max = v;
                                }
                            }
                        }
                        max
                    };
                    if let Some(slot) = out.next() {
                        *slot = act.apply(value);
                    }
                }
            }
        }
    }
    Ok(())
}

/// AVERAGE_POOL_2D float32 (`reference_ops::AveragePool`).
pub fn average_pool_f32(
    p: &PoolF32Params,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check_average(input.len(), output.len())?;
    pool(p, input, output, true)
}

/// MAX_POOL_2D float32 (`reference_ops::MaxPool`).
pub fn max_pool_f32(
    p: &PoolF32Params,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    pool(p, input, output, false)
}

/// MEAN float32 over the axes marked in `reduce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeanF32Params {
    /// Input shape, left-padded with 1s.
    pub input_shape: Shape,
    /// `true` for every (padded) dimension averaged away.
    pub reduce: [bool; MAX_DIMS],
}

impl MeanF32Params {
    /// The kept shape (reduced axes 1) and the reduced shape (kept axes 1).
    fn split(&self) -> (Shape, Shape) {
        let mut outer = self.input_shape;
        let mut reduced = [1usize; MAX_DIMS];
        for d in 0..MAX_DIMS {
            if self.reduce[d] {
                outer[d] = 1;
                reduced[d] = self.input_shape[d];
            }
        }
        (outer, reduced)
    }

    /// Input and output lengths; the reduction covers at least one value.
    pub fn check(&self, input: usize, output: usize) -> Result<(), KernelError> {
        let (outer, reduced) = self.split();
        check_len("mean input", num_elements(&self.input_shape), input)?;
        check_len("mean output", num_elements(&outer), output)?;
        if num_elements(&reduced) == 0 && output > 0 {
            return Err(KernelError::InvalidParams("mean over no elements"));
        }
        Ok(())
    }
}

/// MEAN float32 (`reference_ops::Mean`): each output is its float sum over
/// the reduced positions in row-major order, divided by their count.
pub fn mean_f32(p: &MeanF32Params, input: &[f32], output: &mut [f32]) -> Result<(), KernelError> {
    p.check(input.len(), output.len())?;
    let (outer, reduced) = p.split();
    let stride = strides(&p.input_shape);
    let count = num_elements(&reduced) as f32;
    let mut out = output.iter_mut();
    for_each_offset(&outer, &stride, |base| {
        let mut sum = 0.0f32;
        for_each_offset(&reduced, &stride, |offset| {
            sum += input[base + offset];
        });
        if let Some(o) = out.next() {
            *o = sum / count;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn average_counts_only_cells_inside() {
        // 2x2 image, 2x2 window at stride 2 with one row of padding on top.
        let p = PoolF32Params {
            batches: 1,
            input_height: 2,
            input_width: 2,
            channels: 1,
            filter_height: 2,
            filter_width: 2,
            output_height: 2,
            output_width: 1,
            stride_height: 2,
            stride_width: 2,
            pad_top: 1,
            pad_left: 0,
            act_min: f32::MIN,
            act_max: f32::MAX,
        };
        let mut out = [0.0f32; 2];
        average_pool_f32(&p, &[1.0, 2.0, 3.0, 5.0], &mut out).expect("valid test parameters");
        assert_eq!(out, [1.5, 4.0]);
        max_pool_f32(&p, &[1.0, 2.0, 3.0, 5.0], &mut out).expect("valid test parameters");
        assert_eq!(out, [2.0, 5.0]);
    }

    #[test]
    fn mean_over_the_middle_axes() {
        let mut reduce = [false; MAX_DIMS];
        reduce[3] = true;
        reduce[4] = true;
        let p = MeanF32Params {
            input_shape: [1, 1, 1, 2, 2, 2],
            reduce,
        };
        let input: [f32; 8] = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
        let mut out = [0.0f32; 2];
        mean_f32(&p, &input, &mut out).expect("valid test parameters");
        assert_eq!(out, [2.5, 25.0]);
    }
}
