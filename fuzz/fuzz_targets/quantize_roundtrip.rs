#![no_main]
//! `cargo +nightly fuzz run quantize_roundtrip`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tinyq_tests::fuzz::quantize_roundtrip(data);
});
