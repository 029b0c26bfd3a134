#![no_main]
//! `cargo +nightly fuzz run read_model`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tinyq_tests::fuzz::read_model(data);
});
