#![no_main]
//! `cargo +nightly fuzz run pipeline`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tinyq_tests::fuzz::pipeline(data);
});
