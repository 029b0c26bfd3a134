//! A poisoned arena for the generated C: hooks that, before the first step
//! and after every step, overwrite every arena byte no later step reads
//! (the dead bytes, from [`tinyq_ir::liveness::live_after`], the same
//! liveness the interpreter's poisoned mode uses) with garbage that
//! differs from step to step. A plan, or a kernel, that lets a value be
//! overwritten while it is still live then gives wrong outputs.
//!
//! The hooks are the generated code's own `NAME_STEP_BEGIN` and
//! `NAME_STEP_END` macros, defined in `poison.h` (compile every
//! translation unit with `-include poison.h`) and calling
//! `tq_test_poison` with per-model tables of live ranges in `poison.c`.

use std::fmt::Write as _;

use tinyq_ir::Program;

/// `poison.h` and `poison.c` for `models` (C name, Program).
pub fn c_hooks<'a>(models: impl IntoIterator<Item = (&'a str, &'a Program)>) -> (String, String) {
    let mut header = String::from(
        "/* test hooks: every dead arena byte poisoned between steps (not generated code) */\n\
         #ifndef TQ_TEST_POISON_H\n#define TQ_TEST_POISON_H\n#include <stddef.h>\n\n\
         /* Overwrites arena[0..size) except the live ranges of table entry `entry`\n   \
         (pairs start, end in `live`, entry k from pair at[k] to pair at[k + 1]). */\n\
         void tq_test_poison(void *arena, size_t size, const size_t *live, const size_t *at,\n                    \
         size_t entry);\n",
    );
    let mut source = String::from(
        "/* test hooks: live arena ranges per step (not generated code) */\n\
         #include \"poison.h\"\n\n\
         void tq_test_poison(void *arena, size_t size, const size_t *live, const size_t *at,\n                    \
         size_t entry)\n{\n    \
         unsigned char *a = (unsigned char *)arena;\n    \
         const size_t *pair = live + 2u * at[entry];\n    \
         const size_t *stop = live + 2u * at[entry + 1u];\n    \
         const unsigned salt = (unsigned)(entry * 37u) ^ 0xa5u;\n    \
         size_t from = 0;\n    \
         for (;;) {\n        \
         const size_t to = pair < stop ? pair[0] : size;\n        \
         size_t k;\n        \
         for (k = from; k < to; ++k) {\n            \
         a[k] = (unsigned char)(salt ^ (k * 101u));\n        \
         }\n        \
         if (pair >= stop) {\n            \
         break;\n        \
         }\n        \
         from = pair[1];\n        \
         pair += 2;\n    \
         }\n}\n",
    );
    for (name, program) in models {
        let up = name.to_ascii_uppercase();
        let live = tinyq_ir::liveness::live_after(program);
        // Entry 0: before the first step, only the persistent state is
        // live; entry k + 1: after step k.
        let mut pairs: Vec<usize> = Vec::new();
        if program.state_size > 0 {
            pairs.extend([0, program.state_size]);
        }
        let mut at = vec![0usize, pairs.len() / 2];
        for ranges in &live {
            for &(s, e) in ranges {
                pairs.extend([s, e]);
            }
            at.push(pairs.len() / 2);
        }
        if pairs.is_empty() {
            pairs.extend([0, 0]); // C has no empty arrays; never read
        }
        let list = |v: &[usize]| {
            v.iter()
                .map(|x| format!("{x}u"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let size = program.arena_size;
        let _ = write!(
            header,
            "\nextern const size_t tq_test_live_{name}[];\nextern const size_t tq_test_at_{name}[];\n\
             #define {up}_STEP_BEGIN(index, op) \\\n    \
             ((index) == 0 ? tq_test_poison(arena, {size}u, tq_test_live_{name}, tq_test_at_{name}, 0u) \\\n                  \
             : (void)0)\n\
             #define {up}_STEP_END(index, op) \\\n    \
             tq_test_poison(arena, {size}u, tq_test_live_{name}, tq_test_at_{name}, (size_t)(index) + 1u)\n"
        );
        let _ = write!(
            source,
            "\nconst size_t tq_test_live_{name}[] = {{{}}};\nconst size_t tq_test_at_{name}[] = {{{}}};\n",
            list(&pairs),
            list(&at)
        );
    }
    header.push_str("\n#endif\n");
    (header, source)
}
