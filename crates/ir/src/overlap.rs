//! Which steps may write their output over their input, declared once.
//!
//! A step may write over the bytes of one of its inputs only when the
//! kernel's access order guarantees that no input byte is overwritten
//! before its last read. That order is declared here, per kernel, as an
//! [`Access`]; the planner (`opt::plan`) derives from it how close the
//! output may start to the input, the verifier ([`crate::verify`]) checks
//! every overlapping step against it, and the executors honour it:
//!
//! * [`Access::InPlace`] (table ops, and same-shape element-wise binary ops
//!   over either input): element `i` of the output is written after element
//!   `i` of the inputs is read, and nothing else is read after it. The output
//!   may sit exactly on the input (same offset, same size).
//! * [`Access::Rows`] (fully connected, so also 1×1 convolutions run as
//!   matrix multiplies): row `k` of the output depends only on row `k` of the
//!   input, and rows are computed in increasing order, in blocks of at most
//!   [`ROW_BLOCK`] rows (a block's input rows are read while any of its
//!   output rows is being written). The output may start `d` bytes *below*
//!   the input, with `d >= Access::min_distance()`: then every output row is
//!   written below the first input row its block, or any later block, still
//!   reads.
//! * [`Access::Window`] (convolution, depthwise convolution, pooling, one
//!   batch): output pixels are computed in row-major order; pixel `k` reads
//!   only input rows from `oy*stride - pad_top` on (its window), and its
//!   output bytes may be written while any pixel within [`PIXEL_BLOCK`] - 1
//!   of it is still to be read (the C convolution computes 2 pixels at a
//!   time, 4 on the host path, as does a one-channel depthwise there; the
//!   others 1). The output may start `d` bytes below the input with
//!   `d >= Access::min_distance()`.
//!
//! The C kernels run overlapping steps as they are (no `restrict`; the
//! fully-connected kernel blocks 2 rows, the convolution 2 pixels, both 4
//! on the host path). The
//! interpreter and the Rust kernels, which take disjoint slices, run a
//! `Rows` or `Window` step as a sequence of sub-calls on ranges of output
//! rows ([`Access::chunks`], [`chunk_params`]) whose output and input slices
//! are disjoint, which the same distance makes possible.

use tinyq_kernels::conv::Conv2DParams;
use tinyq_kernels::depthwise::DepthwiseParams;
use tinyq_kernels::fully_connected::FullyConnectedParams;
use tinyq_kernels::pooling::PoolParams;

use crate::kernel::Kernel;

/// The most rows a row kernel may read ahead of the rows it writes: any
/// backend's fully-connected kernel may work on blocks of up to this many
/// rows (the C kernel uses 2).
pub const ROW_BLOCK: usize = 4;

/// How far (in output pixels, either way) a window kernel may read ahead
/// of or behind the pixel whose output it writes, plus one: any backend's
/// convolution, depthwise convolution or pooling kernel may compute up to
/// this many consecutive pixels at a time (the C convolution uses 2).
pub const PIXEL_BLOCK: usize = 4;

/// How a kernel walks its input 0 and its output, when that allows them to
/// share bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// One output byte per input byte, in place.
    InPlace,
    /// `rows` rows of `in_row` input bytes and `out_row` output bytes.
    Rows {
        rows: usize,
        in_row: usize,
        out_row: usize,
    },
    /// A sliding window over one NHWC image of 8-bit values.
    Window(Window),
}

/// The geometry a window kernel's access order depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub out_c: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    /// Input rows one window spans: `(filter_height - 1) * dilation + 1`.
    pub span_h: usize,
}

impl Window {
    fn in_row(&self) -> usize {
        self.in_w * self.in_c
    }

    fn out_row(&self) -> usize {
        self.out_w * self.out_c
    }

    /// The first input row output row `oy` reads.
    fn first_row(&self, oy: usize) -> usize {
        (oy * self.stride_h).saturating_sub(self.pad_top)
    }

    /// One past the last input row output rows up to `oy` (exclusive) read.
    fn end_row(&self, oy: usize) -> usize {
        if oy == 0 {
            return 0;
        }
        ((oy - 1) * self.stride_h + self.span_h)
            .saturating_sub(self.pad_top)
            .min(self.in_h)
    }

    /// The lowest input byte any pixel from `k` on reads (row-major pixel
    /// index), by each pixel's first row and column.
    fn floor(&self, k: usize) -> usize {
        let (oy, ox) = (k / self.out_w.max(1), k % self.out_w.max(1));
        let row = self.first_row(oy);
        // Later pixels of the row start further right; the next row's
        // first pixel starts at column 0 of a row at least as far down.
        let col = (ox * self.stride_w).saturating_sub(self.pad_left);
        let here = (row * self.in_w + col.min(self.in_w)) * self.in_c;
        if oy + 1 < self.out_h {
            here.min(self.first_row(oy + 1) * self.in_row())
        } else {
            here
        }
    }
}

/// The declared access pattern of `kernel` for data input `input`, when
/// its output may overlap that input; `None` means never.
pub fn access(kernel: &Kernel, input: usize) -> Option<Access> {
    // A same-shape element-wise op reads element `i` of both inputs before
    // it writes element `i` of the output: in place over either input.
    if let Kernel::Binary {
        broadcast: None, ..
    } = kernel
    {
        return (input < 2).then_some(Access::InPlace);
    }
    if input != 0 {
        return None;
    }
    match kernel {
        Kernel::Lut { table } if table.len() == 256 => Some(Access::InPlace),
        Kernel::FullyConnected { params, .. } => Some(Access::Rows {
            rows: params.batches,
            in_row: params.accum_depth,
            out_row: params.output_depth,
        }),
        Kernel::Conv2D { params: p, .. } if p.batches == 1 => Some(Access::Window(Window {
            in_h: p.input_height,
            in_w: p.input_width,
            in_c: p.input_channels,
            out_h: p.output_height,
            out_w: p.output_width,
            out_c: p.output_channels,
            stride_h: p.stride_height,
            stride_w: p.stride_width,
            pad_top: p.pad_top,
            pad_left: p.pad_left,
            span_h: p.filter_height.saturating_sub(1) * p.dilation_height + 1,
        })),
        Kernel::DepthwiseConv2D { params: p, .. } if p.batches == 1 => {
            Some(Access::Window(Window {
                in_h: p.input_height,
                in_w: p.input_width,
                in_c: p.input_channels,
                out_h: p.output_height,
                out_w: p.output_width,
                out_c: p.input_channels * p.depth_multiplier,
                stride_h: p.stride_height,
                stride_w: p.stride_width,
                pad_top: p.pad_top,
                pad_left: p.pad_left,
                span_h: p.filter_height.saturating_sub(1) * p.dilation_height + 1,
            }))
        }
        Kernel::AveragePool(p) | Kernel::MaxPool(p) if p.batches == 1 => {
            Some(Access::Window(Window {
                in_h: p.input_height,
                in_w: p.input_width,
                in_c: p.channels,
                out_h: p.output_height,
                out_w: p.output_width,
                out_c: p.channels,
                stride_h: p.stride_height,
                stride_w: p.stride_width,
                pad_top: p.pad_top,
                pad_left: p.pad_left,
                span_h: p.filter_height,
            }))
        }
        _ => None,
    }
}

/// One call of a step run in parts: output rows `first..end` (rows of the
/// fully-connected view, or image rows), reading `in_len` input bytes from
/// `in_start` and writing `out_len` output bytes from `out_start` (both
/// relative to the step's buffers), with no byte in common.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub first: usize,
    pub end: usize,
    pub in_start: usize,
    pub in_len: usize,
    pub out_start: usize,
    pub out_len: usize,
}

/// A kernel's parameters for one [`Chunk`] of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkParams {
    Conv2D(Conv2DParams),
    Depthwise(DepthwiseParams),
    Pool(PoolParams),
    FullyConnected(FullyConnectedParams),
}

/// The parameters that make `kernel` compute only `chunk`, reading only
/// its input bytes: fewer rows, and for a window the first input row moved
/// into `pad_top` (a tap above it is in the padding exactly when it was).
pub fn chunk_params(kernel: &Kernel, chunk: &Chunk) -> Option<ChunkParams> {
    let rows = chunk.end - chunk.first;
    let window = |stride: usize, pad_top: usize, in_row: usize| {
        let first_in = chunk.in_start / in_row.max(1);
        // pad_top' = pad_top + first_in - first * stride, never negative.
        (pad_top + first_in)
            .checked_sub(chunk.first * stride)
            .map(|pad| (pad, chunk.in_len / in_row.max(1)))
    };
    match kernel {
        Kernel::FullyConnected { params, .. } => {
            let mut p = *params;
            p.batches = rows;
            Some(ChunkParams::FullyConnected(p))
        }
        Kernel::Conv2D { params, .. } => {
            let mut p = *params;
            let (pad, in_h) = window(p.stride_height, p.pad_top, p.input_width * p.input_channels)?;
            (p.pad_top, p.input_height, p.output_height) = (pad, in_h, rows);
            Some(ChunkParams::Conv2D(p))
        }
        Kernel::DepthwiseConv2D { params, .. } => {
            let mut p = *params;
            let (pad, in_h) = window(p.stride_height, p.pad_top, p.input_width * p.input_channels)?;
            (p.pad_top, p.input_height, p.output_height) = (pad, in_h, rows);
            Some(ChunkParams::Depthwise(p))
        }
        Kernel::AveragePool(params) | Kernel::MaxPool(params) => {
            let mut p = *params;
            let (pad, in_h) = window(p.stride_height, p.pad_top, p.input_width * p.channels)?;
            (p.pad_top, p.input_height, p.output_height) = (pad, in_h, rows);
            Some(ChunkParams::Pool(p))
        }
        _ => None,
    }
}

impl Access {
    /// The pattern for a step whose input and output hold `in_len` and
    /// `out_len` bytes (`None` when the sizes do not match the pattern).
    pub fn sized(self, in_len: usize, out_len: usize) -> Option<Access> {
        match self {
            Access::InPlace => (in_len == out_len).then_some(Access::InPlace),
            rows @ Access::Rows {
                rows: n,
                in_row,
                out_row,
            } => (n.checked_mul(in_row) == Some(in_len) && n.checked_mul(out_row) == Some(out_len))
                .then_some(rows),
            Access::Window(w) => {
                let ins = [w.in_h, w.in_w, w.in_c]
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d));
                let outs = [w.out_h, w.out_w, w.out_c]
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d));
                // Every output row's window starts inside the input (or just
                // at its end), so a part of it can move that row into pad_top.
                let starts_inside = w.first_row(w.out_h.saturating_sub(1)) <= w.in_h;
                (ins == Some(in_len)
                    && outs == Some(out_len)
                    && w.stride_h > 0
                    && w.span_h > 0
                    && starts_inside)
                    .then_some(self)
            }
        }
    }

    /// The least number of bytes the output must start below the input
    /// (`input_offset - output_offset`). For `InPlace` the output must start
    /// exactly at the input ([`Access::allows`]).
    pub fn min_distance(&self) -> usize {
        match *self {
            Access::InPlace => 0,
            Access::Rows {
                rows,
                in_row,
                out_row,
            } => {
                // Output rows of the block starting at row `b` end at
                // `min(b + ROW_BLOCK, rows) * out_row`; the input still needed
                // then starts at `b * in_row`.
                let mut d = 0usize;
                let mut b = 0usize;
                while b < rows {
                    let end = (b + ROW_BLOCK).min(rows);
                    d = d.max((end * out_row).saturating_sub(b * in_row));
                    b = end;
                }
                d
            }
            Access::Window(w) => {
                let pixels = w.out_h * w.out_w;
                let mut d = 0usize;
                // Pixel by pixel: its output is written while pixels from
                // PIXEL_BLOCK - 1 before it on may still be read.
                for k in 0..pixels {
                    let reader = k.saturating_sub(PIXEL_BLOCK - 1);
                    d = d.max(((k + 1) * w.out_c).saturating_sub(w.floor(reader)));
                }
                // Row by row: a call on output rows from `oy` writes below
                // the first input row it reads ([`Access::chunks`]).
                for oy in 0..w.out_h {
                    d = d
                        .max(((oy + 1) * w.out_row()).saturating_sub(w.first_row(oy) * w.in_row()));
                }
                d
            }
        }
    }

    /// Whether an output at arena offset `output` may overlap an input at
    /// `input` (callers check that the two intersect at all).
    pub fn allows(&self, input: usize, output: usize) -> bool {
        match self {
            Access::InPlace => input == output,
            Access::Rows { .. } | Access::Window(_) => output
                .checked_add(self.min_distance())
                .is_some_and(|end| end <= input),
        }
    }

    /// Bytes the pair occupies together when the output starts exactly
    /// `min_distance()` below the input (their combined footprint).
    pub fn footprint(&self, in_len: usize, out_len: usize) -> usize {
        match self {
            Access::InPlace => in_len.max(out_len),
            Access::Rows { .. } | Access::Window(_) => out_len.max(self.min_distance() + in_len),
        }
    }

    /// Calls that, run one after another, compute the step with disjoint
    /// input and output bytes in each: a call on output rows `first..end`
    /// writes only below the first input byte it reads. `None` unless
    /// [`Access::allows`] the placement (and for `InPlace`, which cannot be
    /// split).
    pub fn chunks(&self, input: usize, output: usize) -> Option<Vec<Chunk>> {
        if !self.allows(input, output) {
            return None;
        }
        // Per output row: its bytes, and the input rows calls from it on read.
        let (rows, out_row, in_row): (usize, usize, usize) = match *self {
            Access::InPlace => return None,
            Access::Rows {
                rows,
                in_row,
                out_row,
            } => (rows, out_row, in_row),
            Access::Window(w) => (w.out_h, w.out_row(), w.in_row()),
        };
        let span = |first: usize, end: usize| -> (usize, usize) {
            match *self {
                Access::Window(w) => {
                    let r0 = w.first_row(first).min(w.in_h);
                    let r1 = w.end_row(end).max(r0);
                    (r0 * in_row, (r1 - r0) * in_row)
                }
                _ => (first * in_row, (end - first) * in_row),
            }
        };
        let mut out = Vec::new();
        let mut first = 0usize;
        while first < rows {
            let (in_start, _) = span(first, first + 1);
            let limit = input + in_start; // the first input byte still unread
            let room = limit.checked_sub(output + first * out_row)?;
            let n = room
                .checked_div(out_row)
                .unwrap_or(rows - first)
                .min(rows - first);
            if n == 0 {
                return None;
            }
            let end = first + n;
            let (in_start, in_len) = span(first, end);
            out.push(Chunk {
                first,
                end,
                in_start,
                in_len,
                out_start: first * out_row,
                out_len: n * out_row,
            });
            first = end;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rows: usize, in_row: usize, out_row: usize) -> Access {
        Access::Rows {
            rows,
            in_row,
            out_row,
        }
    }

    /// Simulates the blocked row order byte by byte: every input byte read
    /// must still hold its value.
    fn simulate(a: Access, input: usize, output: usize) -> bool {
        let Access::Rows {
            rows,
            in_row,
            out_row,
        } = a
        else {
            return true;
        };
        let size = (input + rows * in_row).max(output + rows * out_row);
        // Which input row a byte holds, if any.
        let mut mem: Vec<Option<usize>> = vec![None; size];
        for k in 0..rows {
            for i in 0..in_row {
                mem[input + k * in_row + i] = Some(k);
            }
        }
        let mut b = 0;
        while b < rows {
            let end = (b + ROW_BLOCK).min(rows);
            // Worst case: every output byte of the block written while
            // every input row of the block is still to be read.
            for k in b..end {
                for o in 0..out_row {
                    mem[output + k * out_row + o] = None;
                }
            }
            for j in b..end {
                for i in 0..in_row {
                    if mem[input + j * in_row + i] != Some(j) {
                        return false;
                    }
                }
            }
            b = end;
        }
        true
    }

    #[test]
    fn the_distance_is_exact() {
        for &(n, i, o) in &[(10, 8, 16), (10, 16, 8), (7, 3, 3), (1, 5, 9), (9, 4, 1)] {
            let a = rows(n, i, o);
            let d = a.min_distance();
            let base = 200;
            assert!(simulate(a, base, base - d), "{a:?} at {d}");
            assert!(!simulate(a, base, base - d + 1), "{a:?} at {d} - 1");
            let chunks = a.chunks(base, base - d).expect("chunks");
            assert_eq!(chunks.first().map(|c| c.first), Some(0));
            assert_eq!(chunks.last().map(|c| c.end), Some(n));
        }
    }

    #[test]
    fn same_shape_binary_ops_run_in_place_over_either_input() {
        use crate::kernel::{BinaryOp, Broadcast};
        let kernel = |broadcast| Kernel::Binary {
            op: BinaryOp::Maximum,
            broadcast,
        };
        for input in [0, 1] {
            assert_eq!(access(&kernel(None), input), Some(Access::InPlace));
        }
        assert_eq!(access(&kernel(None), 2), None);
        let b = Broadcast {
            shape1: [1, 1, 1, 1, 2, 3],
            shape2: [1, 1, 1, 1, 1, 3],
            out_shape: [1, 1, 1, 1, 2, 3],
        };
        assert_eq!(access(&kernel(Some(b)), 0), None);
        assert_eq!(Access::InPlace.sized(6, 6), Some(Access::InPlace));
        assert_eq!(Access::InPlace.sized(6, 3), None);
    }

    #[test]
    fn the_issue_example_fits_in_the_output() {
        // 48x48x8 -> 48x48x16: the pair needs little more than the output.
        let a = rows(48 * 48, 8, 16);
        assert_eq!(a.footprint(48 * 48 * 8, 48 * 48 * 16), 36864 + 32);
    }
}
