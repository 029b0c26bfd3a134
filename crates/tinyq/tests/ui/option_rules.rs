// The rules `tinyq compile` applies, with its messages (tinyq_compiler::rules).
mod io_on_integer {
    tinyq::include_model!("models/int8.tflite", io = uint8);
}

mod calibration_on_integer {
    tinyq::include_model!("models/int8.tflite", calibration = "models/int8.tflite");
}

mod bad_name {
    tinyq::include_model!("models/int8.tflite", name = "2-layer");
}

fn main() {}
