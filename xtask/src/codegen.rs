//! `cargo xtask codegen`: the main job on the bundled MNIST example.

pub fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("codegen is not implemented yet")
}
