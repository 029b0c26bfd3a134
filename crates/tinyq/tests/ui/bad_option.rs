mod model {
    tinyq::include_model!("models/int8.tflite", io = int4);
}

mod other {
    tinyq::include_model!("models/int8.tflite", calibrate = "x.npy");
}

fn main() {}
