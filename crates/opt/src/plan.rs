//! Static memory planning: one arena, offsets from liveness.
//!
//! Every buffer lives from the step that writes it to the last step that
//! reads it. Two buffers may share bytes only if their lifetimes do not
//! overlap. The planner tries several placement orders and keeps the
//! smallest arena; the lower bound (the largest number of bytes live at any
//! one step) is reported beside it.

/// A buffer to place: its size and the inclusive range of steps it is live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub size: usize,
    pub first: usize,
    pub last: usize,
}

impl Lifetime {
    fn overlaps(&self, other: &Lifetime) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// The result: one offset per buffer, the arena size and the lower bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    pub offsets: Vec<usize>,
    pub arena_size: usize,
    pub lower_bound: usize,
}

/// Every buffer starts on this boundary (the arena itself is 16-aligned), so
/// int32 and float buffers are aligned wherever they land.
pub const ALIGN: usize = 16;

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// The largest sum of (aligned) sizes live at any one step.
pub fn lower_bound(buffers: &[Lifetime]) -> usize {
    let steps = buffers.iter().map(|b| b.last + 1).max().unwrap_or(0);
    (0..steps)
        .map(|s| {
            buffers
                .iter()
                .filter(|b| b.first <= s && s <= b.last)
                .map(|b| align_up(b.size))
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0)
}

/// Places buffers in `order`, each at the lowest aligned offset where it fits
/// beside the already placed buffers it overlaps in time (gap filling).
fn place_in_order(buffers: &[Lifetime], order: &[usize]) -> (Vec<usize>, usize) {
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed: Vec<usize> = Vec::with_capacity(buffers.len());
    let mut arena = 0usize;
    for &i in order {
        let b = buffers[i];
        // Occupied intervals of time-overlapping buffers, sorted by offset.
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| buffers[j].overlaps(&b))
            .map(|&j| (offsets[j], offsets[j] + align_up(buffers[j].size)))
            .collect();
        busy.sort_unstable();
        let mut candidate = 0usize;
        for (start, end) in busy {
            if candidate + align_up(b.size) <= start {
                break;
            }
            candidate = candidate.max(end);
        }
        offsets[i] = candidate;
        arena = arena.max(candidate + align_up(b.size));
        placed.push(i);
    }
    (offsets, arena)
}

/// Plans `buffers`, trying greedy-by-size, greedy-by-longest-lifetime and
/// execution order, and keeping the smallest arena (ties: the first tried).
pub fn plan(buffers: &[Lifetime]) -> MemoryPlan {
    let n = buffers.len();
    let mut by_size: Vec<usize> = (0..n).collect();
    by_size.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].size), buffers[i].first, i));
    let mut by_breadth: Vec<usize> = (0..n).collect();
    by_breadth.sort_by_key(|&i| {
        let b = buffers[i];
        (
            std::cmp::Reverse(b.size * (b.last - b.first + 1)),
            b.first,
            i,
        )
    });
    let mut by_time: Vec<usize> = (0..n).collect();
    by_time.sort_by_key(|&i| (buffers[i].first, std::cmp::Reverse(buffers[i].size), i));

    let (offsets, arena_size) = [by_size, by_breadth, by_time]
        .iter()
        .map(|order| place_in_order(buffers, order))
        .min_by_key(|(_, size)| *size)
        .unwrap_or_default();
    MemoryPlan {
        offsets,
        arena_size,
        lower_bound: lower_bound(buffers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chain_reuses_memory() {
        // a -> b -> c: a and c never live together.
        let bufs = [
            Lifetime {
                size: 100,
                first: 0,
                last: 1,
            },
            Lifetime {
                size: 50,
                first: 1,
                last: 2,
            },
            Lifetime {
                size: 100,
                first: 2,
                last: 3,
            },
        ];
        let p = plan(&bufs);
        assert_eq!(p.arena_size, 112 + 64);
        assert_eq!(p.lower_bound, 112 + 64);
    }

    #[test]
    fn empty_plan() {
        let p = plan(&[]);
        assert_eq!((p.arena_size, p.lower_bound), (0, 0));
    }

    proptest! {
        #[test]
        fn plans_never_overlap_live_buffers(
            raw in proptest::collection::vec((1usize..500, 0usize..12, 0usize..6), 0..24)
        ) {
            let bufs: Vec<Lifetime> = raw
                .iter()
                .map(|&(size, first, len)| Lifetime { size, first, last: first + len })
                .collect();
            let p = plan(&bufs);
            prop_assert!(p.arena_size >= p.lower_bound);
            for i in 0..bufs.len() {
                prop_assert_eq!(p.offsets[i] % ALIGN, 0);
                prop_assert!(p.offsets[i] + bufs[i].size <= p.arena_size);
                for j in 0..i {
                    if bufs[i].overlaps(&bufs[j]) {
                        let (a0, a1) = (p.offsets[i], p.offsets[i] + bufs[i].size);
                        let (b0, b1) = (p.offsets[j], p.offsets[j] + bufs[j].size);
                        prop_assert!(a1 <= b0 || b1 <= a0, "buffers {} and {} overlap", i, j);
                    }
                }
            }
        }
    }
}
