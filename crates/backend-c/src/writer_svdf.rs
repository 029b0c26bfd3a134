//! Stateful steps (SVDF, LSTM) and the persistent state's reset: the state lives
//! at the start of the arena (`N_STATE_SIZE` bytes), which `NAME_reset`
//! fills with its initial bytes.

use std::fmt::Write as _;

use tinyq_ir::{Activation, BufferRef, FloatKernel, Kernel, Step};

use super::{Field, Writer, c_i32, int, list};
use crate::EmitError;

impl Writer<'_> {
    /// `static const int16_t tq_stepN_WHAT[N] = {...};`, returns its name.
    fn int16_array(&mut self, step: usize, what: &str, values: &[i16]) -> String {
        let name = format!("tq_step{step}_{what}");
        let values: Vec<i64> = values.iter().map(|&v| i64::from(v)).collect();
        let _ = writeln!(
            self.constants,
            "static const int16_t {name}[{}] = {{{}}};",
            values.len().max(1),
            if values.is_empty() {
                "0".to_string()
            } else {
                list(&values, 12, 4)
            }
        );
        self.const_bytes += 2 * values.len();
        name
    }

    /// One SVDF step: its parameters and weights as constants, the call on
    /// the state's bytes in the arena.
    pub(crate) fn stateful_step(
        &mut self,
        index: usize,
        step: &Step,
        dst: &str,
    ) -> Result<(), EmitError> {
        let invalid = |why: &str| EmitError::InvalidStep {
            step: index,
            kernel: step.kernel.name(),
            why: why.to_string(),
        };
        let input = *step
            .inputs
            .first()
            .ok_or_else(|| invalid("missing input"))?;
        let Some(&BufferRef::Arena { offset, .. }) = step.inputs.get(1) else {
            return Err(invalid(
                "its state is not in the arena (unverified program)",
            ));
        };
        let src = self.src(input);
        self.uses_arena = true;
        let state = format!("(unsigned char *)(a + {offset})");
        let dims = |p: &tinyq_kernels::svdf::SvdfParams| -> Result<Vec<Field>, EmitError> {
            Ok(vec![
                Field::int("batches", int(p.batches, "a batch count")?),
                Field::int("input_size", int(p.input_size, "an input size")?),
                Field::int("filters", int(p.num_filters, "a filter count")?),
                Field::int("memory", int(p.memory_size, "a memory size")?),
                Field::int("rank", int(p.rank, "a rank")?),
            ])
        };
        match &step.kernel {
            Kernel::Svdf { params: p, weights } => {
                self.use_kernel(
                    "svdf",
                    &[
                        "wrap",
                        "wsub",
                        "fixedpoint",
                        "mbqm",
                        "clamp8",
                        "load_i16",
                        "store_i16",
                    ],
                );
                let feature: Vec<i64> = weights.feature.iter().map(|&v| i64::from(v)).collect();
                let f = format!("tq_step{index}_feature");
                self.aligned_i8_array(&f, &feature);
                let t = self.int16_array(index, "time", &weights.time);
                let b = match &weights.bias {
                    Some(bias) => {
                        let values: Vec<i64> = bias.iter().map(|&v| i64::from(v)).collect();
                        self.int_array(index, "bias", &values)
                    }
                    None => "NULL".to_string(),
                };
                let fields = [
                    dims(p)?,
                    vec![
                        Field::int("input_zp", p.input_zero_point),
                        Field::int("state_zp", p.state_zero_point),
                        Field::int("output_zp", p.output_zero_point),
                    ],
                    vec![
                        Field::new("feature_multiplier", c_i32(p.feature_multiplier), 4),
                        Field::int("feature_shift", p.feature_shift),
                        Field::new("output_multiplier", c_i32(p.output_multiplier), 4),
                        Field::int("output_shift", p.output_shift),
                    ],
                    vec![
                        Field::pointer("feature", format!("{f}.v")),
                        Field::pointer("time", t),
                        Field::pointer("bias", b),
                    ],
                ];
                let params = self.params_struct(index, "tq_svdf_params", &fields);
                let _ = writeln!(self.body, "    tq_svdf(&{params}, {src}, {state}, {dst});");
            }
            Kernel::Float(FloatKernel::Svdf {
                params: p,
                activation,
                weights,
            }) => {
                self.use_kernel("float", &["load_f32", "store_f32"]);
                self.use_kernel("svdf_f32", &[]);
                let act = match activation {
                    Activation::None => 0,
                    Activation::Relu => 1,
                    Activation::Relu6 => 2,
                    Activation::ReluN1To1 => 3,
                };
                let f = self
                    .float_array(index, "feature", &weights.feature)
                    .map_err(|e| invalid(&e))?;
                let t = self
                    .float_array(index, "time", &weights.time)
                    .map_err(|e| invalid(&e))?;
                let b = match &weights.bias {
                    Some(bias) => self
                        .float_array(index, "bias", bias)
                        .map_err(|e| invalid(&e))?,
                    None => "NULL".to_string(),
                };
                let mut d = dims(p)?;
                d.push(Field::int("activation", act));
                let fields = [
                    d,
                    vec![
                        Field::pointer("feature", f),
                        Field::pointer("time", t),
                        Field::pointer("bias", b),
                    ],
                ];
                let params = self.params_struct(index, "tq_svdf_f32_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_svdf_f32(&{params}, {src}, {state}, {dst});"
                );
            }
            Kernel::Float(FloatKernel::Lstm { params: p, weights }) => {
                self.use_kernel("float", &["load_f32", "store_f32"]);
                self.use_kernel("libm", &[]);
                self.use_kernel("lstm_f32", &[]);
                let w = self
                    .float_array(index, "weights", weights)
                    .map_err(|e| invalid(&e))?;
                let clip = super::c_f32(p.cell_clip).map_err(|e| invalid(&e))?;
                let fields = [
                    vec![
                        Field::int("batches", int(p.batches, "a batch count")?),
                        Field::int("time_steps", int(p.time_steps, "a time step count")?),
                        Field::int("input_size", int(p.input_size, "an input size")?),
                        Field::int("units", int(p.units, "a unit count")?),
                        Field::int("time_major", i32::from(p.time_major)),
                    ],
                    vec![Field::new("cell_clip", clip, 4)],
                    vec![Field::pointer("weights", w)],
                ];
                let params = self.params_struct(index, "tq_lstm_f32_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_lstm_f32(&{params}, {src}, {state}, {dst});"
                );
            }
            Kernel::Lstm { params: p, weights } => {
                self.use_kernel(
                    "lstm_int8",
                    &[
                        "wrap",
                        "fixedpoint",
                        "mbqm",
                        "clamp8",
                        "load_i16",
                        "store_i16",
                        "sigmoid16",
                    ],
                );
                let values: Vec<i64> = weights.weights.iter().map(|&v| i64::from(v)).collect();
                let w = format!("tq_step{index}_weights");
                self.aligned_i8_array(&w, &values);
                let biases: Vec<i64> = weights.biases.iter().map(|&v| i64::from(v)).collect();
                let b = self.int_array(index, "biases", &biases);
                let ints = |v: [i32; 4]| {
                    let parts: Vec<String> = v.iter().map(|&x| c_i32(x)).collect();
                    format!("{{{}}}", parts.join(", "))
                };
                let pick = |r: &[tinyq_kernels::lstm_int8::Requant; 4], m: bool| {
                    r.map(|q| if m { q.multiplier } else { q.shift })
                };
                let fields = [
                    vec![
                        Field::int("batches", int(p.batches, "a batch count")?),
                        Field::int("time_steps", int(p.time_steps, "a time step count")?),
                        Field::int("input_size", int(p.input_size, "an input size")?),
                        Field::int("units", int(p.units, "a unit count")?),
                        Field::int("time_major", i32::from(p.time_major)),
                    ],
                    vec![
                        Field::int("input_offset", p.input_offset),
                        Field::int("recurrent_offset", p.recurrent_offset),
                        Field::int("hidden_zp", p.hidden_zero_point),
                    ],
                    vec![
                        Field::new("input_multiplier", ints(pick(&p.input_requant, true)), 16),
                        Field::new("input_shift", ints(pick(&p.input_requant, false)), 16),
                        Field::new(
                            "recurrent_multiplier",
                            ints(pick(&p.recurrent_requant, true)),
                            16,
                        ),
                        Field::new(
                            "recurrent_shift",
                            ints(pick(&p.recurrent_requant, false)),
                            16,
                        ),
                    ],
                    vec![
                        Field::new("forget_cell_multiplier", c_i32(p.forget_cell.multiplier), 4),
                        Field::int("forget_cell_shift", p.forget_cell.shift),
                        Field::new("input_cell_multiplier", c_i32(p.input_cell.multiplier), 4),
                        Field::int("input_cell_shift", p.input_cell.shift),
                        Field::new("hidden_multiplier", c_i32(p.hidden.multiplier), 4),
                        Field::int("hidden_shift", p.hidden.shift),
                    ],
                    vec![
                        Field::int("cell_tanh_multiplier", p.cell_tanh_multiplier),
                        Field::int("cell_tanh_shift", p.cell_tanh_shift),
                        Field::int("clip_cell", i32::from(p.clip_cell)),
                        Field::int("cell_clip", i32::from(p.cell_clip)),
                    ],
                    vec![
                        Field::pointer("weights", format!("{w}.v")),
                        Field::pointer("biases", b),
                    ],
                ];
                let params = self.params_struct(index, "tq_lstm_int8_params", &fields);
                let _ = writeln!(
                    self.body,
                    "    tq_lstm_int8(&{params}, {src}, {state}, {dst});"
                );
            }
            _ => return Err(invalid("is not a stateful kernel")),
        }
        Ok(())
    }

    /// The body of `NAME_reset`: the state's initial bytes written to the
    /// start of the arena (a loop of zeros when they are all zero).
    pub(crate) fn reset_body(&mut self) -> String {
        let init = &self.program.state_init;
        let mut s = String::new();
        if init.is_empty() {
            s.push_str("    (void)arena;\n    return 0;");
            return s;
        }
        s.push_str("    unsigned char *const s = (unsigned char *)arena;\n    int32_t i;\n");
        s.push_str("    if (arena == NULL) {\n        return -1;\n    }\n");
        if init.iter().all(|&b| b == 0) {
            let _ = write!(
                s,
                "    for (i = 0; i < {}; ++i) {{\n        s[i] = 0;\n    }}\n    return 0;",
                init.len()
            );
        } else {
            let values: Vec<i64> = init.iter().map(|&b| i64::from(b)).collect();
            let _ = writeln!(
                self.constants,
                "static const unsigned char tq_state_init[{}] = {{{}}};",
                values.len(),
                list(&values, 16, 4)
            );
            let _ = write!(
                s,
                "    for (i = 0; i < {}; ++i) {{\n        s[i] = tq_state_init[i];\n    }}\n    return 0;",
                init.len()
            );
        }
        s
    }
}
