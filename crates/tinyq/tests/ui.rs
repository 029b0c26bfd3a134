//! `include_model!`'s compile errors, held by trybuild UI tests, and a
//! model included but unused in a binary denying warnings (`ui-pass`).
//!
//! trybuild builds the cases in its own project under
//! `TARGET/tests/trybuild/tinyq/`, whose `CARGO_MANIFEST_DIR` the macro
//! resolves paths against, so the models the cases name are put in its
//! `models/` folder first.

use std::path::{Path, PathBuf};

fn target_dir() -> PathBuf {
    // TARGET/debug/deps/ui-HASH
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// `act_relu/int8.tflite` with its op turned into FLOOR, which tinyq has no
/// kernel for.
fn unsupported_op_model() -> Vec<u8> {
    use tinyq_tflite::fb;
    let bytes = std::fs::read(fixtures().join("act_relu/int8.tflite")).expect("fixture");
    let model = <fb::ModelRef<'_> as planus::ReadAsRoot>::read_as_root(&bytes).expect("flatbuffer");
    let mut model: fb::Model = model.try_into().expect("owned model");
    let codes = model.operator_codes.as_mut().expect("operator codes");
    codes[0].builtin_code = fb::BuiltinOperator::Floor;
    codes[0].deprecated_builtin_code = fb::BuiltinOperator::Floor as i8;
    let mut builder = planus::Builder::new();
    let mut bytes = builder.finish(&model, Some(*b"TFL3")).to_vec();
    // planus 1.3 writes the identifier before the root offset; swap them
    // into the FlatBuffers layout (as crates/tflite/tests/common does).
    if &bytes[0..4] == b"TFL3" {
        let root = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) + 4;
        bytes[0..4].copy_from_slice(&root.to_le_bytes());
        bytes[4..8].copy_from_slice(b"TFL3");
    }
    bytes
}

#[test]
fn ui() {
    let models = target_dir().join("tests/trybuild/tinyq/models");
    std::fs::create_dir_all(&models).expect("mkdir");
    std::fs::copy(
        fixtures().join("conv_basic/float.tflite"),
        models.join("float.tflite"),
    )
    .expect("copy");
    std::fs::copy(
        fixtures().join("conv_basic/int8.tflite"),
        models.join("int8.tflite"),
    )
    .expect("copy");
    std::fs::write(models.join("unsupported_op.tflite"), unsupported_op_model()).expect("write");
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // Warning-free where it is declared, even when nothing uses it.
    t.pass("tests/ui-pass/*.rs");
}
