//! Static memory planning: one arena, offsets from liveness.
//!
//! Every buffer lives from the step that writes it to the last step that
//! reads it. Two buffers may share bytes only if their lifetimes do not
//! overlap, or if they are the input and the output of one step that last
//! reads the input, and the kernel's declared access order
//! ([`tinyq_ir::overlap`]) allows the output that close to the input (an
//! [`Overlap`]). The planner tries several placement orders, with and
//! without overlaps, and keeps the smallest arena; two lower bounds are
//! reported beside it: the classic one (the largest number of bytes live at
//! any one step, buffers disjoint) and the overlap one (the same, with each
//! overlapping pair counted at its combined footprint).

use tinyq_ir::overlap::Access;

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

/// Buffer `output` (written by the step that last reads buffer `input`)
/// may share bytes with `input` as `access` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    pub input: usize,
    pub output: usize,
    pub access: Access,
    /// `access.min_distance()`, computed once.
    pub distance: usize,
}

impl Overlap {
    /// The overlap `access` allows between buffers `input` and `output`.
    pub fn new(input: usize, output: usize, access: Access) -> Self {
        Overlap {
            input,
            output,
            access,
            distance: access.min_distance(),
        }
    }

    /// Whether `output` at `out_at` may share bytes with `input` at `in_at`.
    fn allows(&self, in_at: usize, out_at: usize) -> bool {
        match self.access {
            Access::InPlace => in_at == out_at,
            _ => out_at + self.distance <= in_at,
        }
    }
}

/// The result: one offset per buffer, the arena size and the lower bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    pub offsets: Vec<usize>,
    pub arena_size: usize,
    /// The largest sum of sizes live at one step, all buffers disjoint.
    pub lower_bound: usize,
    /// The same with each allowed overlap at its combined footprint.
    pub overlap_bound: usize,
}

/// Extra placement orders tried when buffers may overlap.
const SHUFFLED_ORDERS: usize = 48;

/// Every buffer starts on this boundary (the arena itself is 16-aligned), so
/// int32 and float buffers are aligned wherever they land.
pub const ALIGN: usize = 16;

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// The sum of (aligned) sizes live at step `s`.
fn live(buffers: &[Lifetime], s: usize) -> usize {
    buffers
        .iter()
        .filter(|b| b.first <= s && s <= b.last)
        .map(|b| align_up(b.size))
        .sum()
}

/// The number of steps the buffers span.
fn steps(buffers: &[Lifetime]) -> usize {
    buffers.iter().map(|b| b.last + 1).max().unwrap_or(0)
}

/// The first step where `at` is largest.
fn peak_step(buffers: &[Lifetime], at: impl Fn(usize) -> usize) -> usize {
    (0..steps(buffers))
        .map(|s| (at(s), std::cmp::Reverse(s)))
        .max()
        .map_or(0, |(_, std::cmp::Reverse(s))| s)
}

/// The largest sum of (aligned) sizes live at any one step.
pub fn lower_bound(buffers: &[Lifetime]) -> usize {
    (0..steps(buffers))
        .map(|s| live(buffers, s))
        .max()
        .unwrap_or(0)
}

/// Places buffers in `order`, each at the lowest aligned offset where it
/// fits beside the already placed buffers it overlaps in time (gap
/// filling), or over one of them where an [`Overlap`] allows it.
fn place_in_order(
    buffers: &[Lifetime],
    overlaps: &[Overlap],
    order: &[usize],
    prefer_overlap: bool,
) -> (Vec<usize>, usize) {
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed = vec![false; buffers.len()];
    let mut arena = 0usize;
    // The overlaps each buffer takes part in.
    let mut pairs: Vec<Vec<&Overlap>> = vec![Vec::new(); buffers.len()];
    for o in overlaps {
        if o.input < buffers.len() && o.output < buffers.len() && o.input != o.output {
            pairs[o.input].push(o);
            pairs[o.output].push(o);
        }
    }
    let mut neighbours: Vec<usize> = Vec::new();
    for &i in order {
        let b = buffers[i];
        let size = align_up(b.size);
        neighbours.clear();
        neighbours.extend((0..buffers.len()).filter(|&j| placed[j] && buffers[j].overlaps(&b)));
        let mut candidates = vec![0usize];
        for &j in &neighbours {
            candidates.push(offsets[j] + align_up(buffers[j].size));
        }
        let mut shared = Vec::new();
        for o in &pairs[i] {
            let d = o.distance;
            let in_place = matches!(o.access, Access::InPlace);
            if o.output == i && placed[o.input] {
                let at = offsets[o.input];
                if in_place {
                    shared.push(at);
                } else if at >= d {
                    shared.push((at - d) / ALIGN * ALIGN);
                }
            } else if o.input == i && placed[o.output] {
                let at = offsets[o.output];
                shared.push(if in_place { at } else { align_up(at + d) });
            } else if o.input == i && prefer_overlap && !in_place {
                // Room below for the output still to place, so that it can
                // start `d` below this input rather than beside it.
                shared.push(align_up(d));
            }
        }
        shared.sort_unstable();
        if prefer_overlap {
            // Sharing bytes with a partner first, then the lowest offset.
            candidates.sort_unstable();
            shared.extend(candidates);
            candidates = shared;
        } else {
            candidates.extend(shared);
            candidates.sort_unstable();
            candidates.dedup();
        }
        let fits = |c: usize| {
            neighbours.iter().all(|&j| {
                let (s, e) = (offsets[j], offsets[j] + align_up(buffers[j].size));
                if c + size <= s || e <= c {
                    return true;
                }
                pairs[i].iter().any(|o| {
                    if o.output == i && o.input == j {
                        o.allows(s, c)
                    } else if o.input == i && o.output == j {
                        o.allows(c, s)
                    } else {
                        false
                    }
                })
            })
        };
        let at = candidates
            .into_iter()
            .find(|&c| fits(c))
            .unwrap_or_else(|| {
                neighbours
                    .iter()
                    .map(|&j| offsets[j] + align_up(buffers[j].size))
                    .max()
                    .unwrap_or(0)
            });
        offsets[i] = at;
        arena = arena.max(at + size);
        placed[i] = true;
    }
    (offsets, arena)
}

/// The overlap lower bound: [`lower_bound`] with each overlapping pair
/// counted, at the step it shares, at its combined (aligned) footprint.
pub fn overlap_bound(buffers: &[Lifetime], overlaps: &[Overlap]) -> usize {
    (0..steps(buffers))
        .map(|s| overlap_live(buffers, overlaps, s))
        .max()
        .unwrap_or(0)
}

/// [`live`] at step `s` with the overlapping pair that saves the most
/// counted at its combined footprint.
fn overlap_live(buffers: &[Lifetime], overlaps: &[Overlap], s: usize) -> usize {
    let saved = overlaps
        .iter()
        .filter_map(|o| {
            let (i, out) = (buffers.get(o.input)?, buffers.get(o.output)?);
            (out.first == s && i.last == s && o.input != o.output).then(|| {
                let (a, b) = (align_up(i.size), align_up(out.size));
                let together = match o.access {
                    Access::InPlace => a.max(b),
                    _ => b.max(align_up(o.distance) + a),
                };
                (a + b).saturating_sub(together)
            })
        })
        .max()
        .unwrap_or(0);
    live(buffers, s) - saved
}

/// Plans `buffers` with every buffer disjoint from those live beside it.
pub fn plan(buffers: &[Lifetime]) -> MemoryPlan {
    plan_with(buffers, &[])
}

/// Plans `buffers`, trying greedy-by-size, greedy-by-longest-lifetime and
/// execution order, each with and without the `overlaps` (which add
/// backwards-in-time orders, shuffled ones and ones packing each peak step
/// first), and keeping the
/// smallest arena (ties: the first tried, disjoint first), so an overlap
/// never makes an arena larger.
pub fn plan_with(buffers: &[Lifetime], overlaps: &[Overlap]) -> MemoryPlan {
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

    let mut by_time_reversed: Vec<usize> = (0..n).collect();
    by_time_reversed.sort_by_key(|&i| {
        (
            std::cmp::Reverse(buffers[i].last),
            std::cmp::Reverse(buffers[i].size),
            i,
        )
    });

    // Backwards in time from each peak step (the overlap bound's and the
    // classic bound's): the buffers written up to the peak first, so the
    // chain into the peak packs top-down from the peak's output before the
    // later (smaller) buffers take the low offsets it needs.
    let peak_first: Vec<Vec<usize>> = if overlaps.is_empty() {
        Vec::new()
    } else {
        let mut peaks = vec![
            peak_step(buffers, |s| overlap_live(buffers, overlaps, s)),
            peak_step(buffers, |s| live(buffers, s)),
        ];
        peaks.dedup();
        peaks
            .into_iter()
            .map(|k| {
                let mut order = by_time_reversed.clone();
                order.sort_by_key(|&i| buffers[i].first > k);
                order
            })
            .collect()
    };

    let orders = [by_size, by_breadth, by_time];
    let disjoint = orders
        .iter()
        .map(|order| place_in_order(buffers, &[], order, false));
    // With overlaps: also backwards in time, each input placed over the
    // output it becomes; and each order once preferring to share bytes.
    // And orders near greedy-by-size, shuffled by a fixed generator (the
    // plan stays deterministic): overlapping chains need their buffers'
    // relative order right, which one fixed order often misses.
    let mut shuffled: Vec<Vec<usize>> = Vec::new();
    if !overlaps.is_empty() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..SHUFFLED_ORDERS {
            let mut keyed: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Size with up to +-50% noise, more in later rounds.
                    let noise = 1000 + state % (200 + 40 * round as u64);
                    (buffers[i].size as u64 * noise, i)
                })
                .collect();
            keyed.sort_by_key(|&(k, i)| (std::cmp::Reverse(k), i));
            shuffled.push(keyed.into_iter().map(|(_, i)| i).collect());
        }
    }
    let overlapping = (!overlaps.is_empty()).then(|| {
        orders
            .iter()
            .chain(std::iter::once(&by_time_reversed))
            .chain(shuffled.iter())
            .chain(peak_first.iter())
            .flat_map(|order| {
                [false, true].map(|prefer| place_in_order(buffers, overlaps, order, prefer))
            })
    });
    let (offsets, arena_size) = disjoint
        .chain(overlapping.into_iter().flatten())
        .min_by_key(|(_, size)| *size)
        .unwrap_or_default();
    MemoryPlan {
        offsets,
        arena_size,
        lower_bound: lower_bound(buffers),
        overlap_bound: overlap_bound(buffers, overlaps),
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

    /// A chain with branches: buffer `i` is written at step `i` and read
    /// until step `i + extra`; where buffer `i - 1` dies at step `i`, the
    /// step may overlap it with its output (rows, or in place).
    fn chain_with_overlaps(
        rows: usize,
        raw: &[(usize, usize, bool, bool)],
    ) -> (Vec<Lifetime>, Vec<Overlap>) {
        let bufs: Vec<Lifetime> = raw
            .iter()
            .enumerate()
            .map(|(i, &(width, extra, _, _))| Lifetime {
                size: rows * width,
                first: i,
                last: i + extra,
            })
            .collect();
        let mut overlaps = Vec::new();
        for i in 1..bufs.len() {
            let (width_in, _, _, _) = raw[i - 1];
            let (width, _, overlap, in_place) = raw[i];
            if !overlap || bufs[i - 1].last != i {
                continue;
            }
            let access = if in_place && width == width_in {
                Access::InPlace
            } else {
                Access::Rows {
                    rows,
                    in_row: width_in,
                    out_row: width,
                }
            };
            overlaps.push(Overlap::new(i - 1, i, access));
        }
        (bufs, overlaps)
    }

    #[test]
    fn a_pointwise_expansion_fits_in_its_output() {
        // The example: 48x48x8 -> 48x48x16.
        let (bufs, overlaps) =
            chain_with_overlaps(48 * 48, &[(8, 1, false, false), (16, 0, true, false)]);
        let p = plan_with(&bufs, &overlaps);
        assert_eq!(p.lower_bound, 55296);
        assert_eq!(p.overlap_bound, 36896);
        assert_eq!(p.arena_size, 36896);
    }

    /// A random program with branches: buffer `i` is written at step `i`
    /// and read until step `i + extra`; step `i` may write its output over
    /// any buffer that dies there (up to two: a binary op), in place when
    /// the sizes match and the coin says so, else in row order.
    fn branches_with_overlaps(
        rows: usize,
        raw: &[(usize, usize, u8, bool)],
    ) -> (Vec<Lifetime>, Vec<Overlap>) {
        let bufs: Vec<Lifetime> = raw
            .iter()
            .enumerate()
            .map(|(i, &(width, extra, _, _))| Lifetime {
                size: rows * width,
                first: i,
                last: i + extra,
            })
            .collect();
        let mut overlaps = Vec::new();
        for (i, &(width, _, pick, in_place)) in raw.iter().enumerate() {
            let dying = (0..i).filter(|&j| bufs[j].last == i);
            for (n, j) in dying.enumerate().take(2) {
                if pick & (1 << n) == 0 {
                    continue;
                }
                let width_in = raw[j].0;
                let access = if in_place && width == width_in {
                    Access::InPlace
                } else {
                    Access::Rows {
                        rows,
                        in_row: width_in,
                        out_row: width,
                    }
                };
                overlaps.push(Overlap::new(j, i, access));
            }
        }
        (bufs, overlaps)
    }

    /// No byte is shared while both buffers are live, except by an allowed
    /// pair as its access order allows; the arena is at most the disjoint
    /// plan's, and the bounds are ordered.
    fn check_plan(bufs: &[Lifetime], overlaps: &[Overlap]) -> Result<(), TestCaseError> {
        let p = plan_with(bufs, overlaps);
        let disjoint = plan(bufs);
        prop_assert!(p.arena_size <= disjoint.arena_size);
        prop_assert!(p.overlap_bound <= p.arena_size);
        prop_assert!(p.overlap_bound <= p.lower_bound);
        for i in 0..bufs.len() {
            prop_assert_eq!(p.offsets[i] % ALIGN, 0);
            prop_assert!(p.offsets[i] + bufs[i].size <= p.arena_size);
            for j in 0..i {
                if !bufs[i].overlaps(&bufs[j]) {
                    continue;
                }
                let (a0, a1) = (p.offsets[i], p.offsets[i] + bufs[i].size);
                let (b0, b1) = (p.offsets[j], p.offsets[j] + bufs[j].size);
                if a1 <= b0 || b1 <= a0 {
                    continue;
                }
                // Sharing bytes: only an allowed pair, as the access
                // order allows, with the reader dying at that step.
                let pair = overlaps.iter().find(|o| o.input == j && o.output == i);
                let Some(o) = pair else {
                    return Err(TestCaseError::fail(format!("buffers {j} and {i} overlap")));
                };
                prop_assert_eq!(bufs[j].last, bufs[i].first);
                prop_assert!(o.access.allows(p.offsets[j], p.offsets[i]));
                prop_assert!(
                    o.access.chunks(p.offsets[j], p.offsets[i]).is_some()
                        || o.access == Access::InPlace
                );
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn overlapping_plans_never_overwrite_live_bytes(
            rows in 1usize..9,
            raw in proptest::collection::vec((1usize..40, 0usize..3, proptest::bool::ANY, proptest::bool::ANY), 1..14)
        ) {
            let (bufs, overlaps) = chain_with_overlaps(rows, &raw);
            check_plan(&bufs, &overlaps)?;
        }

        #[test]
        fn overlapping_plans_of_branching_programs_never_overwrite_live_bytes(
            rows in 1usize..9,
            raw in proptest::collection::vec((1usize..5, 0usize..5, 0u8..4, proptest::bool::ANY), 1..16)
        ) {
            let (bufs, overlaps) = branches_with_overlaps(rows, &raw);
            check_plan(&bufs, &overlaps)?;
        }

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
            prop_assert_eq!(p.overlap_bound, p.lower_bound);
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
