mod model {
    tinyq::include_model!("models/unsupported_op.tflite");
}

fn main() {}
