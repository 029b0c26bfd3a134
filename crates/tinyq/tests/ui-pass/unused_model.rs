// A model included and never used, in a binary denying warnings: the
// generated items allow `dead_code`, so this builds warning-free.
#![deny(warnings)]

mod model {
    tinyq::include_model!("models/int8.tflite");
}

fn main() {}
