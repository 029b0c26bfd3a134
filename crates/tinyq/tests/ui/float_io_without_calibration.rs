mod model {
    tinyq::include_model!("models/float.tflite", io = int8, name = "conv");
}

fn main() {}
