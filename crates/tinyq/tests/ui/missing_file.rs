mod model {
    tinyq::include_model!("models/does_not_exist.tflite");
}

fn main() {}
