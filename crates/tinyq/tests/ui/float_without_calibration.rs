mod model {
    tinyq::include_model!("models/float.tflite", name = "conv");
}

fn main() {}
