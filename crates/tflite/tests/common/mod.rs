//! Builds small TFLite models with the planus builder, for tests.

#![allow(dead_code)] // each test binary uses a different part

use tinyq_tflite::fb;

pub use fb::BuiltinOperator as B;
pub use fb::TensorType as T;

/// A subgraph under construction, with the model's operator codes and buffers.
#[derive(Debug, Clone)]
pub struct Net {
    pub codes: Vec<fb::OperatorCode>,
    pub tensors: Vec<fb::Tensor>,
    pub buffers: Vec<fb::Buffer>,
    pub ops: Vec<fb::Operator>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    /// Extra subgraphs, appended after subgraph 0.
    pub extra_subgraphs: Vec<fb::SubGraph>,
    pub version: u32,
}

impl Default for Net {
    fn default() -> Self {
        Net {
            codes: Vec::new(),
            tensors: Vec::new(),
            // Buffer 0 is the empty sentinel.
            buffers: vec![fb::Buffer::default()],
            ops: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            extra_subgraphs: Vec::new(),
            version: 3,
        }
    }
}

/// Per-tensor quantization.
pub fn q(scale: f32, zero_point: i64) -> Option<Box<fb::QuantizationParameters>> {
    Some(Box::new(fb::QuantizationParameters {
        scale: Some(vec![scale]),
        zero_point: Some(vec![zero_point]),
        ..Default::default()
    }))
}

/// Per-axis quantization with zero zero points.
pub fn q_axis(scales: Vec<f32>, axis: i32) -> Option<Box<fb::QuantizationParameters>> {
    let n = scales.len();
    Some(Box::new(fb::QuantizationParameters {
        scale: Some(scales),
        zero_point: Some(vec![0; n]),
        quantized_dimension: axis,
        ..Default::default()
    }))
}

/// Little-endian bytes of int32 values.
pub fn i32s(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Net {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tensor without data. Returns its index.
    pub fn act(
        &mut self,
        name: &str,
        shape: &[i32],
        ty: fb::TensorType,
        quant: Option<Box<fb::QuantizationParameters>>,
    ) -> i32 {
        self.tensors.push(fb::Tensor {
            shape: Some(shape.to_vec()),
            type_: ty,
            buffer: 0,
            name: Some(name.to_owned()),
            quantization: quant,
            ..Default::default()
        });
        self.tensors.len() as i32 - 1
    }

    /// A constant tensor with its own buffer.
    pub fn constant(
        &mut self,
        name: &str,
        shape: &[i32],
        ty: fb::TensorType,
        quant: Option<Box<fb::QuantizationParameters>>,
        data: Vec<u8>,
    ) -> i32 {
        self.buffers.push(fb::Buffer {
            data: Some(data),
            ..Default::default()
        });
        let t = self.act(name, shape, ty, quant);
        self.tensors[t as usize].buffer = self.buffers.len() as u32 - 1;
        t
    }

    /// An int32 constant.
    pub fn const_i32(&mut self, name: &str, shape: &[i32], values: &[i32]) -> i32 {
        self.constant(name, shape, T::Int32, None, i32s(values))
    }

    /// The index of `code`'s operator code, added if new.
    pub fn code(&mut self, code: fb::BuiltinOperator) -> u32 {
        let oc = fb::OperatorCode {
            deprecated_builtin_code: (code as i32).min(127) as i8,
            custom_code: None,
            version: 1,
            builtin_code: code,
        };
        match self.codes.iter().position(|c| *c == oc) {
            Some(i) => i as u32,
            None => {
                self.codes.push(oc);
                self.codes.len() as u32 - 1
            }
        }
    }

    /// Appends an op. Returns its index.
    pub fn op(
        &mut self,
        code: fb::BuiltinOperator,
        inputs: &[i32],
        outputs: &[i32],
        options: Option<fb::BuiltinOptions>,
    ) -> usize {
        let opcode_index = self.code(code);
        self.ops.push(fb::Operator {
            opcode_index,
            inputs: Some(inputs.to_vec()),
            outputs: Some(outputs.to_vec()),
            builtin_options: options,
            ..Default::default()
        });
        self.ops.len() - 1
    }

    pub fn model(&self) -> fb::Model {
        let mut subgraphs = vec![fb::SubGraph {
            tensors: Some(self.tensors.clone()),
            inputs: Some(self.inputs.clone()),
            outputs: Some(self.outputs.clone()),
            operators: Some(self.ops.clone()),
            name: Some("main".into()),
            ..Default::default()
        }];
        subgraphs.extend(self.extra_subgraphs.iter().cloned());
        fb::Model {
            version: self.version,
            operator_codes: Some(self.codes.clone()),
            subgraphs: Some(subgraphs),
            description: Some("built by tinyq-tflite tests".into()),
            buffers: Some(self.buffers.clone()),
            ..Default::default()
        }
    }

    /// The serialized model, with the `TFL3` identifier.
    pub fn bytes(&self) -> Vec<u8> {
        serialize(&self.model(), true)
    }
}

/// Serializes `model`, with or without the file identifier.
pub fn serialize(model: &fb::Model, identifier: bool) -> Vec<u8> {
    let mut builder = planus::Builder::new();
    if !identifier {
        return builder.finish(model, None).to_vec();
    }
    // planus 1.3.0 writes the identifier at bytes 0..4 and the root offset
    // (relative to byte 4) at 4..8, the reverse of the FlatBuffers layout
    // (fixed upstream in planus-org/planus#377). Swap them back: an offset
    // relative to byte 0 is 4 more.
    let mut bytes = builder.finish(model, Some(*b"TFL3")).to_vec();
    assert_eq!(&bytes[0..4], b"TFL3", "planus fixed its identifier order?");
    let root = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) + 4;
    bytes[0..4].copy_from_slice(&root.to_le_bytes());
    bytes[4..8].copy_from_slice(b"TFL3");
    bytes
}

pub fn conv_options(
    padding: fb::Padding,
    stride: i32,
    act: fb::ActivationFunctionType,
) -> Option<fb::BuiltinOptions> {
    Some(fb::BuiltinOptions::Conv2DOptions(Box::new(
        fb::Conv2DOptions {
            padding,
            stride_w: stride,
            stride_h: stride,
            fused_activation_function: act,
            ..Default::default()
        },
    )))
}

/// A small int8 model shaped like what the converter writes for a Keras
/// CNN with a dynamic batch:
///
/// ```text
/// in [1,8,8,3] -> CONV_2D 3x3 SAME (8, per-channel, RELU) -> MAX_POOL_2D 2x2/2
///   -> SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE [1,128]
///   -> FULLY_CONNECTED (10, per-channel) -> SOFTMAX -> out [1,10]
/// ```
pub fn small_cnn() -> Net {
    let mut n = Net::new();
    let x = n.act("input", &[1, 8, 8, 3], T::Int8, q(0.02, -3));
    n.tensors[x as usize].shape_signature = Some(vec![-1, 8, 8, 3]);
    let w = n.constant(
        "conv/weights",
        &[8, 3, 3, 3],
        T::Int8,
        q_axis(vec![0.01; 8], 0),
        (0..216).map(|i| (i % 255) as u8).collect(),
    );
    let b = n.constant(
        "conv/bias",
        &[8],
        T::Int32,
        // The converter writes quantized_dimension on 1-D biases too.
        q_axis(vec![0.0002; 8], 0),
        i32s(&[1, -2, 3, -4, 5, -6, 7, -8]),
    );
    let c = n.act("conv", &[1, 8, 8, 8], T::Int8, q(0.05, -128));
    n.op(
        B::Conv2d,
        &[x, w, b],
        &[c],
        conv_options(fb::Padding::Same, 1, fb::ActivationFunctionType::Relu),
    );
    let p = n.act("pool", &[1, 4, 4, 8], T::Int8, q(0.05, -128));
    n.op(
        B::MaxPool2d,
        &[c],
        &[p],
        Some(fb::BuiltinOptions::Pool2DOptions(Box::new(
            fb::Pool2DOptions {
                padding: fb::Padding::Valid,
                stride_w: 2,
                stride_h: 2,
                filter_width: 2,
                filter_height: 2,
                fused_activation_function: fb::ActivationFunctionType::None,
            },
        ))),
    );
    // Keras 3 Flatten.
    let shape = n.act("flatten/Shape", &[4], T::Int32, None);
    n.op(B::Shape, &[p], &[shape], None);
    let begin = n.const_i32("flatten/begin", &[1], &[0]);
    let one = n.const_i32("flatten/one", &[1], &[1]);
    let batch = n.act("flatten/strided_slice", &[], T::Int32, None);
    n.op(
        B::StridedSlice,
        &[shape, begin, one, one],
        &[batch],
        Some(fb::BuiltinOptions::StridedSliceOptions(Box::new(
            fb::StridedSliceOptions {
                shrink_axis_mask: 1,
                ..Default::default()
            },
        ))),
    );
    let features = n.const_i32("flatten/Reshape/shape/1", &[], &[128]);
    let new_shape = n.act("flatten/Reshape/shape", &[2], T::Int32, None);
    n.op(
        B::Pack,
        &[batch, features],
        &[new_shape],
        Some(fb::BuiltinOptions::PackOptions(Box::new(fb::PackOptions {
            values_count: 2,
            axis: 0,
        }))),
    );
    let flat = n.act("flatten", &[1, 128], T::Int8, q(0.05, -128));
    n.tensors[flat as usize].shape_signature = Some(vec![-1, 128]);
    n.op(B::Reshape, &[p, new_shape], &[flat], None);
    let fw = n.constant(
        "dense/weights",
        &[10, 128],
        T::Int8,
        q_axis(vec![0.003; 10], 0),
        (0..1280).map(|i| (i * 7 % 251) as u8).collect(),
    );
    let fbias = n.constant(
        "dense/bias",
        &[10],
        T::Int32,
        q_axis(vec![0.00015; 10], 0),
        i32s(&[0; 10]),
    );
    let logits = n.act("dense", &[1, 10], T::Int8, q(0.1, 10));
    n.op(
        B::FullyConnected,
        &[flat, fw, fbias],
        &[logits],
        Some(fb::BuiltinOptions::FullyConnectedOptions(Box::default())),
    );
    let out = n.act("softmax", &[1, 10], T::Int8, q(1.0 / 256.0, -128));
    n.op(
        B::Softmax,
        &[logits],
        &[out],
        Some(fb::BuiltinOptions::SoftmaxOptions(Box::new(
            fb::SoftmaxOptions { beta: 1.0 },
        ))),
    );
    n.inputs = vec![x];
    n.outputs = vec![out];
    n
}

/// A one-op float model: `in -> OP -> out`, both `shape`.
pub fn unary(code: fb::BuiltinOperator, shape: &[i32], options: Option<fb::BuiltinOptions>) -> Net {
    let mut n = Net::new();
    let x = n.act("x", shape, T::Float32, None);
    let y = n.act("y", shape, T::Float32, None);
    n.op(code, &[x], &[y], options);
    n.inputs = vec![x];
    n.outputs = vec![y];
    n
}
