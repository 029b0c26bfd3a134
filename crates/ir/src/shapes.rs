//! Output shapes of ops as TFLite derives them from the input shapes and
//! attributes, for [`crate::validate`]. Everything here works per
//! dimension, never per element, and reports overflow instead of wrapping.

use tinyq_kernels::shape::{MAX_DIMS, broadcast_shape, pad_shape};

/// Why a windowed op (convolution, pooling) has no output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowError {
    /// Kernel, stride or dilation is 0.
    ZeroParameter,
    /// The padded input is smaller than the dilated kernel.
    KernelTooLarge {
        padded: usize,
        dilated_kernel: usize,
    },
    /// A size overflows `usize`.
    Overflow,
}

/// Output size along one spatial axis of a windowed op with explicit
/// padding: `(input + before + after - dilated_kernel) / stride + 1`,
/// where `dilated_kernel = (kernel - 1) * dilation + 1`. SAME/VALID were
/// resolved to `before`/`after` at import, so this is the one formula.
pub fn window_output(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    before: usize,
    after: usize,
) -> Result<usize, WindowError> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err(WindowError::ZeroParameter);
    }
    let dilated_kernel = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|k| k.checked_add(1))
        .ok_or(WindowError::Overflow)?;
    let padded = input
        .checked_add(before)
        .and_then(|p| p.checked_add(after))
        .ok_or(WindowError::Overflow)?;
    let span = padded
        .checked_sub(dilated_kernel)
        .ok_or(WindowError::KernelTooLarge {
            padded,
            dilated_kernel,
        })?;
    // `span / stride < usize::MAX` because stride >= 1 and span < usize::MAX
    // (dilated_kernel >= 1).
    Ok(span / stride + 1)
}

/// Why two shapes do not broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastError {
    /// A rank above what the broadcasting kernels handle ([`MAX_DIMS`]).
    RankTooHigh(usize),
    /// Some dimension pair is neither equal nor has a 1.
    Incompatible,
}

/// TFLite (NumPy) broadcasting: align on the right, each pair of sizes
/// equal or one of them 1. The result has the larger rank. Uses the
/// kernels' own rule so validation and lowering cannot disagree.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, BroadcastError> {
    let rank = a.len().max(b.len());
    let pa = pad_shape(a).map_err(|_| BroadcastError::RankTooHigh(rank))?;
    let pb = pad_shape(b).map_err(|_| BroadcastError::RankTooHigh(rank))?;
    let out = broadcast_shape(&pa, &pb).map_err(|_| BroadcastError::Incompatible)?;
    Ok(out[MAX_DIMS - rank..].to_vec())
}

/// How many size-1 dimensions `longer` loses to become `shorter` when only
/// size-1 dimensions may be dropped (SQUEEZE), or `None` when it cannot.
/// EXPAND_DIMS is the reverse with exactly one.
pub fn dropped_ones(longer: &[usize], shorter: &[usize]) -> Option<usize> {
    let mut kept = shorter.iter().peekable();
    let mut dropped = 0;
    for &d in longer {
        // Greedy matching is exact: only 1s may be skipped, and a skipped 1
        // is interchangeable with a matched one.
        if kept.peek() == Some(&&d) {
            kept.next();
        } else if d == 1 {
            dropped += 1;
        } else {
            return None;
        }
    }
    kept.next().is_none().then_some(dropped)
}

/// MEAN's output: the reduced axes dropped, or kept as 1 with `keep_dims`.
/// `axes` must be valid (in range); duplicates do not matter.
pub fn reduced(input: &[usize], axes: &[usize], keep_dims: bool) -> Vec<usize> {
    input
        .iter()
        .enumerate()
        .filter_map(|(d, &n)| match (axes.contains(&d), keep_dims) {
            (false, _) => Some(n),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// PAD's output: `before + input + after` per dimension; `None` on overflow
/// or when there is not one pair per dimension.
pub fn padded(input: &[usize], paddings: &[(usize, usize)]) -> Option<Vec<usize>> {
    if paddings.len() != input.len() {
        return None;
    }
    input
        .iter()
        .zip(paddings)
        .map(|(&n, &(before, after))| n.checked_add(before)?.checked_add(after))
        .collect()
}

/// True when `perm` is a permutation of `0..rank`.
pub fn is_permutation(perm: &[usize], rank: usize) -> bool {
    if perm.len() != rank {
        return false;
    }
    // A bit set: ranks are small (validation caps them at MAX_DIMS first).
    let mut seen = 0u128;
    perm.iter().all(|&p| {
        let fresh = p < rank && p < 128 && seen & (1 << p) == 0;
        if fresh {
            seen |= 1 << p;
        }
        fresh
    })
}

/// TRANSPOSE's output: `output[i] = input[perm[i]]`; `None` unless `perm`
/// is a permutation of the input's dimensions.
pub fn permuted(input: &[usize], perm: &[usize]) -> Option<Vec<usize>> {
    if !is_permutation(perm, input.len()) {
        return None;
    }
    perm.iter().map(|&p| input.get(p).copied()).collect()
}

/// SPACE_TO_DEPTH's output `[N, H/b, W/b, C·b²]`; `None` unless the input
/// is 4-D and `block` (non-zero) divides its height and width.
pub fn space_to_depth(input: &[usize], block: usize) -> Option<Vec<usize>> {
    let &[n, h, w, c] = input else { return None };
    if block == 0 || h % block != 0 || w % block != 0 {
        return None;
    }
    let depth = c.checked_mul(block)?.checked_mul(block)?;
    Some(vec![n, h / block, w / block, depth])
}

/// DEPTH_TO_SPACE's output `[N, H·b, W·b, C/b²]`; `None` unless the input
/// is 4-D and `block²` (non-zero) divides its depth.
pub fn depth_to_space(input: &[usize], block: usize) -> Option<Vec<usize>> {
    let &[n, h, w, c] = input else { return None };
    let square = block.checked_mul(block).filter(|&s| s != 0)?;
    if c % square != 0 {
        return None;
    }
    Some(vec![
        n,
        h.checked_mul(block)?,
        w.checked_mul(block)?,
        c / square,
    ])
}

/// The shape of GATHER's indices: the output's dimensions that replace
/// input dimension `axis` (output = `input[..axis] ++ indices ++
/// input[axis + 1..]`); `None` when the output does not have that form.
pub fn gather_indices_shape(input: &[usize], output: &[usize], axis: usize) -> Option<Vec<usize>> {
    if axis >= input.len() || output.len() + 1 < input.len() {
        return None;
    }
    let rank = output.len() + 1 - input.len();
    let (before, after) = (&input[..axis], &input[axis + 1..]);
    let tail = output.get(axis + rank..)?;
    (output.get(..axis)? == before && tail == after).then(|| output[axis..axis + rank].to_vec())
}

/// Why FULLY_CONNECTED has no output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FcError {
    /// The input's element count is not a multiple of the filter's depth.
    NotMultiple { elements: usize },
    /// `keep_num_dims` needs the input's last dimension to be the depth.
    LastDim { last: Option<usize> },
    /// The filter's depth is 0.
    ZeroDepth,
    /// The input's size overflows.
    Overflow,
}

/// FULLY_CONNECTED's output for a `[units, depth]` filter:
/// with `keep_num_dims` the input's shape with its last dimension (which
/// must be `depth`) replaced by `units`, else `[elements / depth, units]`.
pub fn fully_connected(
    input: &[usize],
    units: usize,
    depth: usize,
    keep_num_dims: bool,
) -> Result<Vec<usize>, FcError> {
    let elements = input
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or(FcError::Overflow)?;
    let batches = elements.checked_div(depth).ok_or(FcError::ZeroDepth)?;
    if elements % depth != 0 {
        return Err(FcError::NotMultiple { elements });
    }
    if !keep_num_dims {
        return Ok(vec![batches, units]);
    }
    match input.split_last() {
        Some((&last, outer)) if last == depth => {
            let mut out = outer.to_vec();
            out.push(units);
            Ok(out)
        }
        other => Err(FcError::LastDim {
            last: other.map(|(&l, _)| l),
        }),
    }
}

/// BATCH_MATMUL's geometry and output shape from its input shapes, as
/// TFLM's prepare derives them (ranks 2 to 5; batch dimensions aligned
/// from the right, equal or 1; equal depths), or why there is none.
pub fn batch_matmul(
    lhs: &[usize],
    rhs: &[usize],
    adj_x: bool,
    adj_y: bool,
) -> Result<(tinyq_kernels::batch_matmul::MatMulShape, Vec<usize>), String> {
    use tinyq_kernels::batch_matmul::{BATCH_DIMS, MatMulShape};
    let shape = |d: &[usize]| format!("{d:?}").replace(' ', "");
    for (role, d) in [("lhs", lhs), ("rhs", rhs)] {
        if !(2..=BATCH_DIMS + 2).contains(&d.len()) {
            return Err(format!(
                "{role} {} has rank {}; BATCH_MATMUL takes ranks 2 to 5",
                shape(d),
                d.len()
            ));
        }
    }
    let (lm, rm) = (lhs.len() - 2, rhs.len() - 2);
    let (rows, depth) = if adj_x {
        (lhs[lm + 1], lhs[lm])
    } else {
        (lhs[lm], lhs[lm + 1])
    };
    let (rdepth, cols) = if adj_y {
        (rhs[rm + 1], rhs[rm])
    } else {
        (rhs[rm], rhs[rm + 1])
    };
    if depth != rdepth {
        return Err(format!(
            "lhs {} and rhs {} (adj_x={adj_x}, adj_y={adj_y}) have depths {depth} and {rdepth}",
            shape(lhs),
            shape(rhs)
        ));
    }
    let padded = |batch: &[usize]| {
        let mut out = [1usize; BATCH_DIMS];
        out[BATCH_DIMS - batch.len()..].copy_from_slice(batch);
        out
    };
    let m = MatMulShape {
        lhs_batch: padded(&lhs[..lm]),
        rhs_batch: padded(&rhs[..rm]),
        rows,
        depth,
        cols,
        adj_x,
        adj_y,
    };
    let rank = lm.max(rm);
    let out_batch = m.out_batch();
    for d in 0..BATCH_DIMS {
        let (l, r) = (m.lhs_batch[d], m.rhs_batch[d]);
        if l != r && l != 1 && r != 1 {
            return Err(format!(
                "lhs {} and rhs {} have batch dimensions that do not broadcast (sizes must be equal or 1)",
                shape(lhs),
                shape(rhs)
            ));
        }
    }
    let mut out: Vec<usize> = out_batch[BATCH_DIMS - rank..].to_vec();
    out.extend([rows, cols]);
    if out
        .iter()
        .try_fold(1usize, |n, &k| n.checked_mul(k))
        .is_none()
    {
        return Err("the output's size overflows".to_string());
    }
    Ok((m, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matmul_shapes() {
        // Batch dimensions broadcast from the right; adj_x/adj_y move the depth.
        let (m, out) =
            batch_matmul(&[2, 1, 3, 8], &[4, 8, 5], false, false).expect("broadcastable");
        assert_eq!(out, vec![2, 4, 3, 5]);
        assert_eq!((m.lhs_batch, m.rhs_batch), ([1, 2, 1], [1, 1, 4]));
        assert_eq!((m.rows, m.depth, m.cols), (3, 8, 5));
        let (m, out) = batch_matmul(&[8, 3], &[5, 8], true, true).expect("transposed");
        assert_eq!((out, m.rows, m.depth, m.cols), (vec![3, 5], 3, 8, 5));
        // Depths differ, batch dimensions clash, rank 1 and rank 6.
        assert!(batch_matmul(&[3, 8], &[7, 5], false, false).is_err());
        assert!(batch_matmul(&[2, 3, 8], &[3, 8, 5], false, false).is_err());
        assert!(batch_matmul(&[8], &[8, 5], false, false).is_err());
        assert!(batch_matmul(&[1, 1, 1, 1, 3, 8], &[8, 5], false, false).is_err());
    }

    #[test]
    fn window_sizes() {
        // VALID 3x3 on 10: 8; SAME (1,1): 10; stride 2 SAME (0,1) on 28: 14.
        assert_eq!(window_output(10, 3, 1, 1, 0, 0), Ok(8));
        assert_eq!(window_output(10, 3, 1, 1, 1, 1), Ok(10));
        assert_eq!(window_output(28, 3, 2, 1, 0, 1), Ok(14));
        // Dilation 2 makes a 3-tap kernel 5 wide.
        assert_eq!(window_output(10, 3, 1, 2, 0, 0), Ok(6));
        // Floor division: the last partial window is dropped.
        assert_eq!(window_output(6, 3, 2, 1, 0, 0), Ok(2));
        assert_eq!(
            window_output(2, 3, 1, 1, 0, 0),
            Err(WindowError::KernelTooLarge {
                padded: 2,
                dilated_kernel: 3
            })
        );
        assert_eq!(window_output(0, 1, 1, 1, 0, 0), Err(window_too_large(0, 1)));
        assert_eq!(
            window_output(1, 0, 1, 1, 0, 0),
            Err(WindowError::ZeroParameter)
        );
        assert_eq!(
            window_output(1, 1, 0, 1, 0, 0),
            Err(WindowError::ZeroParameter)
        );
        assert_eq!(
            window_output(usize::MAX, 1, 1, 1, 1, 0),
            Err(WindowError::Overflow)
        );
        assert_eq!(
            window_output(4, usize::MAX, 1, 2, 0, 0),
            Err(WindowError::Overflow)
        );
    }

    fn window_too_large(padded: usize, dilated_kernel: usize) -> WindowError {
        WindowError::KernelTooLarge {
            padded,
            dilated_kernel,
        }
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast(&[2, 1, 4], &[3, 1]), Ok(vec![2, 3, 4]));
        assert_eq!(broadcast(&[], &[5]), Ok(vec![5]));
        assert_eq!(broadcast(&[0, 4], &[1, 4]), Ok(vec![0, 4]));
        assert_eq!(
            broadcast(&[2, 3], &[3, 3]),
            Err(BroadcastError::Incompatible)
        );
        assert_eq!(
            broadcast(&[1; 7], &[1]),
            Err(BroadcastError::RankTooHigh(7))
        );
    }

    #[test]
    fn squeeze_and_expand() {
        assert_eq!(dropped_ones(&[1, 4, 1, 6], &[1, 4, 6]), Some(1));
        assert_eq!(dropped_ones(&[1, 4, 1, 6], &[4, 6]), Some(2));
        assert_eq!(dropped_ones(&[4, 6], &[4, 6]), Some(0));
        assert_eq!(dropped_ones(&[4, 6], &[6, 4]), None);
        assert_eq!(dropped_ones(&[4, 2, 3], &[4, 6]), None);
        assert_eq!(dropped_ones(&[4], &[4, 1]), None);
    }

    #[test]
    fn reductions_pads_permutations() {
        assert_eq!(reduced(&[1, 4, 4, 8], &[1, 2], true), vec![1, 1, 1, 8]);
        assert_eq!(reduced(&[1, 4, 4, 8], &[1, 2], false), vec![1, 8]);
        assert_eq!(padded(&[1, 2], &[(0, 0), (1, 2)]), Some(vec![1, 5]));
        assert_eq!(padded(&[1, 2], &[(0, 0)]), None);
        assert_eq!(padded(&[usize::MAX], &[(0, 1)]), None);
        assert_eq!(permuted(&[2, 3, 4], &[2, 0, 1]), Some(vec![4, 2, 3]));
        assert_eq!(permuted(&[2, 3, 4], &[0, 0, 1]), None);
        assert_eq!(permuted(&[2, 3, 4], &[0, 1]), None);
        assert_eq!(permuted(&[2, 3], &[0, 200]), None);
        assert!(is_permutation(&[], 0));
    }

    #[test]
    fn fully_connected_shapes() {
        assert_eq!(
            fully_connected(&[1, 4, 4, 2], 10, 32, false),
            Ok(vec![1, 10])
        );
        assert_eq!(fully_connected(&[3, 12], 8, 12, false), Ok(vec![3, 8]));
        assert_eq!(fully_connected(&[1, 6, 12], 8, 12, true), Ok(vec![1, 6, 8]));
        assert_eq!(
            fully_connected(&[1, 6, 12], 8, 10, false),
            Err(FcError::NotMultiple { elements: 72 })
        );
        assert_eq!(
            fully_connected(&[2, 6], 8, 12, true),
            Err(FcError::LastDim { last: Some(6) })
        );
        assert_eq!(fully_connected(&[12], 8, 0, false), Err(FcError::ZeroDepth));
    }
}
