//! The fast kernels the generated Rust runs (`src/fast.rs`, embedded as
//! text in every module that uses them) equal the reference kernels of
//! `crates/kernels`, the oracle, byte for byte: random shapes, strides,
//! dilations, every padding case (windows partly or wholly outside the
//! image), odd channel counts, extreme weights, biases, multipliers and
//! shifts. Layers the fast kernels refuse are checked to be refused.

use proptest::prelude::*;

/// What `src/fast.rs` reaches as `super::kernels`.
mod kernels {
    pub use tinyq_kernels::*;
}

#[path = "../src/fast.rs"]
#[allow(dead_code)]
mod fast;

use tinyq_kernels::conv::Conv2DParams;
use tinyq_kernels::depthwise::DepthwiseParams;
use tinyq_kernels::fully_connected::FullyConnectedParams;

fn bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

/// int8 values, often at the extremes.
fn i8s(n: usize) -> impl Strategy<Value = Vec<i8>> {
    prop::collection::vec(
        prop_oneof![Just(-128i8), Just(127i8), Just(0i8), any::<i8>()],
        n,
    )
}

/// Requantization of `n` channels: bias, multiplier, shift.
fn requant(n: usize) -> impl Strategy<Value = Requant> {
    (
        prop::collection::vec(
            prop_oneof![Just(i32::MIN), Just(i32::MAX), -100_000i32..100_000],
            n,
        ),
        prop::collection::vec(
            prop_oneof![Just(1i32 << 30), Just(i32::MAX), (1i32 << 30)..i32::MAX],
            n,
        ),
        prop::collection::vec(prop_oneof![Just(-31i32), Just(31i32), -12i32..4], n),
    )
}

fn act() -> impl Strategy<Value = (i32, i32, i32)> {
    (-128i32..=127, -128i32..=127, -128i32..=127).prop_map(|(off, a, b)| (off, a.min(b), a.max(b)))
}

#[derive(Debug, Clone)]
struct Geometry {
    n: usize,
    ih: usize,
    iw: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    pt: usize,
    pl: usize,
    oh: usize,
    ow: usize,
}

/// Any window geometry: padding on every side (or none), outputs that
/// reach past the image, strides and dilations.
fn geometry(max_dw: usize) -> impl Strategy<Value = Geometry> {
    (
        1usize..=2,
        (1usize..=7, 1usize..=9),
        (1usize..=4, 1usize..=4),
        (1usize..=3, 1usize..=3),
        (1usize..=2, 1usize..=max_dw),
        (0usize..=3, 0usize..=3),
        (0usize..=2, 0usize..=2),
    )
        .prop_map(
            |(n, (ih, iw), (kh, kw), (sh, sw), (dh, dw), (pt, pl), (pb, pr))| {
                let span = |i: usize, p0: usize, p1: usize, k: usize, d: usize, s: usize| {
                    let total = i + p0 + p1;
                    let eff = (k - 1) * d + 1;
                    if total >= eff {
                        (total - eff) / s + 1
                    } else {
                        1
                    }
                };
                Geometry {
                    n,
                    ih,
                    iw,
                    kh,
                    kw,
                    sh,
                    sw,
                    dh,
                    dw,
                    pt,
                    pl,
                    oh: span(ih, pt, pb, kh, dh, sh),
                    ow: span(iw, pl, pr, kw, dw, sw),
                }
            },
        )
}

/// Bias, multipliers and shifts of every channel.
type Requant = (Vec<i32>, Vec<i32>, Vec<i32>);
/// Parameters, input, filter, requantization, whether the layer has a bias.
type Layer<P> = (P, Vec<i8>, Vec<i8>, Requant, bool);

fn conv_case() -> impl Strategy<Value = Layer<Conv2DParams>> {
    (
        geometry(1),
        1usize..=5,
        1usize..=7,
        act(),
        any::<i8>(),
        any::<bool>(),
    )
        .prop_flat_map(|(g, ic, oc, (off, lo, hi), pad, has_bias)| {
            let p = Conv2DParams {
                batches: g.n,
                input_height: g.ih,
                input_width: g.iw,
                input_channels: ic,
                filter_height: g.kh,
                filter_width: g.kw,
                filter_input_channels: ic,
                output_height: g.oh,
                output_width: g.ow,
                output_channels: oc,
                stride_height: g.sh,
                stride_width: g.sw,
                dilation_height: g.dh,
                dilation_width: g.dw,
                pad_top: g.pt,
                pad_left: g.pl,
                input_offset: 0,
                pad_value: i32::from(pad),
                output_offset: off,
                act_min: lo,
                act_max: hi,
            };
            (
                Just(p),
                i8s(g.n * g.ih * g.iw * ic),
                i8s(oc * g.kh * g.kw * ic),
                requant(oc),
                Just(has_bias),
            )
        })
}

fn depthwise_case() -> impl Strategy<Value = Layer<DepthwiseParams>> {
    (
        geometry(3),
        prop_oneof![1usize..=5, 15usize..=35],
        act(),
        any::<i8>(),
        any::<bool>(),
    )
        .prop_flat_map(|(g, c, (off, lo, hi), pad, has_bias)| {
            let p = DepthwiseParams {
                batches: g.n,
                input_height: g.ih,
                input_width: g.iw,
                input_channels: c,
                depth_multiplier: 1,
                filter_height: g.kh,
                filter_width: g.kw,
                output_height: g.oh,
                output_width: g.ow,
                stride_height: g.sh,
                stride_width: g.sw,
                dilation_height: g.dh,
                dilation_width: g.dw,
                pad_top: g.pt,
                pad_left: g.pl,
                input_offset: 0,
                pad_value: i32::from(pad),
                output_offset: off,
                act_min: lo,
                act_max: hi,
            };
            (
                Just(p),
                i8s(g.n * g.ih * g.iw * c),
                i8s(g.kh * g.kw * c),
                requant(c),
                Just(has_bias),
            )
        })
}

/// A fully-connected layer, and whether it is per channel.
fn fc_case() -> impl Strategy<Value = (FullyConnectedParams, Vec<i8>, Vec<i8>, Requant, bool, bool)>
{
    (
        1usize..=5,
        prop_oneof![1usize..=9, 30usize..=70],
        1usize..=9,
        act(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(rows, depth, od, (off, lo, hi), has_bias, per_channel)| {
            let p = FullyConnectedParams {
                batches: rows,
                accum_depth: depth,
                output_depth: od,
                input_offset: 0,
                filter_offset: 0,
                output_offset: off,
                act_min: lo,
                act_max: hi,
            };
            (
                Just(p),
                i8s(rows * depth),
                i8s(od * depth),
                requant(od),
                Just(has_bias),
                Just(per_channel),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn conv2d_equals_the_oracle((p, x, w, (bias, mult, shift), has_bias) in conv_case()) {
        let mut want = vec![0i8; p.batches * p.output_height * p.output_width * p.output_channels];
        let mut got = vec![0x5Ai8; want.len()];
        let b = has_bias.then_some(bias.as_slice());
        tinyq_kernels::conv::conv2d(&p, &x, &w, b, &mult, &shift, &mut want).expect("the oracle runs");
        let zeros = vec![0; p.output_channels];
        let fb = if has_bias { &bias } else { &zeros };
        fast::conv2d(&p, &x, &bytes(&w), fb, &mult, &shift, &mut got).expect("the fast kernel runs");
        prop_assert_eq!(got, want);
    }

    #[test]
    fn depthwise_equals_the_oracle((p, x, w, (bias, mult, shift), has_bias) in depthwise_case()) {
        let c = p.input_channels;
        let mut want = vec![0i8; p.batches * p.output_height * p.output_width * c];
        let mut got = vec![0x5Ai8; want.len()];
        let b = has_bias.then_some(bias.as_slice());
        tinyq_kernels::depthwise::depthwise_conv2d(&p, &x, &w, b, &mult, &shift, &mut want).expect("the oracle runs");
        let zeros = vec![0; c];
        let fb = if has_bias { &bias } else { &zeros };
        fast::depthwise_conv2d(&p, &x, &bytes(&w), fb, &mult, &shift, &mut got).expect("the fast kernel runs");
        prop_assert_eq!(got, want);
    }

    #[test]
    fn fully_connected_equals_the_oracle(
        (p, x, w, (bias, mult, shift), has_bias, per_channel) in fc_case()
    ) {
        let od = p.output_depth;
        let mut want = vec![0i8; p.batches * od];
        let mut got = vec![0x5Ai8; want.len()];
        let b = has_bias.then_some(bias.as_slice());
        let (m, s) = if per_channel {
            (mult.clone(), shift.clone())
        } else {
            (vec![mult[0]], vec![shift[0]])
        };
        tinyq_kernels::fully_connected::fully_connected(&p, &x, &w, b, &m, &s, &mut want).expect("the oracle runs");
        // A per-tensor pair, repeated per channel as the backend emits it.
        let (fm, fs) = if per_channel { (mult, shift) } else { (vec![m[0]; od], vec![s[0]; od]) };
        let zeros = vec![0; od];
        let fb = if has_bias { &bias } else { &zeros };
        fast::fully_connected(&p, &x, &bytes(&w), fb, &fm, &fs, &mut got).expect("the fast kernel runs");
        prop_assert_eq!(got, want);
    }
}

#[test]
fn layers_the_fast_kernels_do_not_take_are_refused() {
    let p = Conv2DParams {
        batches: 1,
        input_height: 2,
        input_width: 2,
        input_channels: 1,
        filter_height: 1,
        filter_width: 1,
        filter_input_channels: 1,
        output_height: 2,
        output_width: 2,
        output_channels: 1,
        stride_height: 1,
        stride_width: 1,
        dilation_height: 1,
        dilation_width: 1,
        pad_top: 0,
        pad_left: 0,
        input_offset: 5,
        pad_value: 0,
        output_offset: 0,
        act_min: -128,
        act_max: 127,
    };
    assert!(!fast::conv2d_fast(&p));
    let mut out = [0i8; 4];
    assert!(fast::conv2d(&p, &[0; 4], &[1], &[0], &[1 << 30], &[0], &mut out).is_err());
    let wide_pad = Conv2DParams {
        input_offset: 0,
        pad_value: 200,
        ..p
    };
    assert!(!fast::conv2d_fast(&wide_pad));
}
