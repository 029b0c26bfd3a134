//! The README's table of supported operators, written from the reader's own
//! list (`tinyq_tflite::supported_ops`) by `cargo xtask codegen` and checked
//! by `--check`, so the README never claims an op the reader refuses.

use std::path::Path;

use anyhow::{Context, bail};

const BEGIN: &str = "<!-- supported-ops:begin (cargo xtask codegen writes this table) -->\n";
const END: &str = "<!-- supported-ops:end -->\n";

/// The table as markdown.
pub fn table() -> String {
    let mut s = String::from("| operator | what tinyq accepts |\n|---|---|\n");
    for op in tinyq_tflite::supported_ops() {
        s.push_str(&format!("| `{}` | {} |\n", op.name, op.notes));
    }
    s
}

/// `readme` with the table between its markers replaced by today's.
fn with_table(readme: &str) -> anyhow::Result<String> {
    let (Some(begin), Some(end)) = (readme.find(BEGIN), readme.find(END)) else {
        bail!("README.md lacks the supported-ops markers");
    };
    if end < begin {
        bail!("README.md's supported-ops markers are out of order");
    }
    let start = begin + BEGIN.len();
    Ok(format!("{}{}{}", &readme[..start], table(), &readme[end..]))
}

/// Writes the table into `README.md`, or with `check` fails if it is stale.
pub fn update(readme: &Path, check: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(readme)
        .with_context(|| format!("cannot read {}", readme.display()))?;
    let fresh = with_table(&text)?;
    if fresh == text {
        return Ok(());
    }
    if check {
        bail!(
            "{}: the supported-operators table is stale; run `cargo xtask codegen` and commit the result",
            readme.display()
        );
    }
    std::fs::write(readme, fresh).with_context(|| format!("cannot write {}", readme.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_table_is_current() {
        update(&crate::project_root().join("README.md"), true).unwrap_or_else(|e| panic!("{e:#}"));
    }

    #[test]
    fn markers_are_required() {
        assert!(with_table("no markers").is_err());
    }
}
