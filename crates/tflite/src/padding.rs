//! SAME/VALID to explicit padding, TFLite's way (`kernels/padding.h`, spec 2.23).

#![forbid(unsafe_code)]

use crate::schema::fb;

/// One spatial axis of a windowed op.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Axis {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    /// The output size the model declares.
    pub output: usize,
}

/// `(before, after)` padding for `axis`, checking that the declared output
/// size is the one TFLite computes:
///
/// ```text
/// eff_k = (k - 1) * dilation + 1
/// SAME : out = (in + stride - 1) / stride
/// VALID: out = (in + stride - eff_k) / stride
/// total = max(0, (out - 1) * stride + eff_k - in); before = total / 2
/// ```
pub(crate) fn resolve(padding: fb::Padding, axis: Axis) -> Result<(usize, usize), String> {
    // i128: every input is at most 2^31, so nothing below can overflow.
    let input = axis.input as i128;
    let stride = axis.stride as i128;
    if axis.kernel == 0 || axis.stride == 0 || axis.dilation == 0 {
        return Err(format!(
            "kernel {}, stride {} and dilation {} must all be at least 1",
            axis.kernel, axis.stride, axis.dilation
        ));
    }
    let eff_k = (axis.kernel as i128 - 1) * axis.dilation as i128 + 1;
    let out = match padding {
        fb::Padding::Same => (input + stride - 1) / stride,
        fb::Padding::Valid => (input + stride - eff_k).div_euclid(stride),
    };
    if out < 1 {
        return Err(format!(
            "input size {} is smaller than the effective kernel size {eff_k} under VALID padding",
            axis.input
        ));
    }
    if out != axis.output as i128 {
        return Err(format!(
            "output size is {}, but {padding:?} padding with input {}, kernel {}, stride {}, dilation {} gives {out}",
            axis.output, axis.input, axis.kernel, axis.stride, axis.dilation
        ));
    }
    let total = ((out - 1) * stride + eff_k - input).max(0);
    let before = total / 2;
    // Both fit: total < eff_k + (out - 1) * stride, which came from usizes.
    Ok((before as usize, (total - before) as usize))
}

/// `(before, after)` cropping of a TRANSPOSE_CONV axis. `before` is what
/// TFLM derives (`ComputePaddingHeightWidth` with the transposed output size
/// in the role of a convolution's input, dilation 1, C division):
///
/// ```text
/// SAME : n = (out + stride - 1) / stride
/// VALID: n = (out + stride - k) / stride
/// before = max(0, (n - 1) * stride + k - out) / 2
/// ```
///
/// `after` is what the full transposed output, `(input - 1) * stride + k`,
/// holds beyond `before + out` (0 when the model's output is larger).
pub(crate) fn transposed(
    padding: fb::Padding,
    input: usize,
    kernel: usize,
    stride: usize,
    output: usize,
) -> (usize, usize) {
    // i128: every size is at most 2^31, so nothing below can overflow.
    let (i, k, s, o) = (
        input as i128,
        kernel as i128,
        stride.max(1) as i128,
        output as i128,
    );
    let n = match padding {
        fb::Padding::Same => (o + s - 1) / s,
        fb::Padding::Valid => (o + s - k) / s, // Rust's `/` truncates, as C's
    };
    let before = ((n - 1) * s + k - o).max(0) / 2;
    let full = (i - 1).max(0) * s + k;
    let after = (full - o - before).max(0);
    (before as usize, after as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ax(input: usize, kernel: usize, stride: usize, dilation: usize, output: usize) -> Axis {
        Axis {
            input,
            kernel,
            stride,
            dilation,
            output,
        }
    }

    #[test]
    fn same_and_valid() {
        assert_eq!(resolve(fb::Padding::Same, ax(28, 3, 1, 1, 28)), Ok((1, 1)));
        // Odd total: the extra row goes after.
        assert_eq!(resolve(fb::Padding::Same, ax(28, 3, 2, 1, 14)), Ok((0, 1)));
        assert_eq!(resolve(fb::Padding::Same, ax(7, 4, 1, 1, 7)), Ok((1, 2)));
        assert_eq!(resolve(fb::Padding::Same, ax(10, 3, 1, 2, 10)), Ok((2, 2)));
        assert_eq!(resolve(fb::Padding::Valid, ax(32, 5, 2, 1, 14)), Ok((0, 0)));
        assert_eq!(resolve(fb::Padding::Valid, ax(10, 3, 1, 2, 6)), Ok((0, 0)));
        // A window bigger than the input under SAME pads on both sides.
        assert_eq!(resolve(fb::Padding::Same, ax(2, 5, 1, 1, 2)), Ok((2, 2)));
    }

    #[test]
    fn mismatches() {
        assert!(resolve(fb::Padding::Same, ax(28, 3, 1, 1, 27)).is_err());
        assert!(resolve(fb::Padding::Valid, ax(2, 5, 1, 1, 1)).is_err());
        assert!(resolve(fb::Padding::Valid, ax(2, 3, 0, 1, 1)).is_err());
        assert!(resolve(fb::Padding::Same, ax(2, 3, 1, 0, 2)).is_err());
    }
}
