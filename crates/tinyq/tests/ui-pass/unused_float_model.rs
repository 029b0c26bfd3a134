// A float model without calibration data compiles as float32; included and
// never used in a binary denying warnings, it builds warning-free.
#![deny(warnings)]

mod model {
    tinyq::include_model!("models/float.tflite", name = "conv");
}

fn main() {}
