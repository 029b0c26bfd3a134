#![no_main]
//! `cargo +nightly fuzz run read_npy`: see fuzz/README.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tinyq_tests::fuzz::read_npy(data);
});
