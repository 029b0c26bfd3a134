//! Filetests for the graph passes, after cranelift's: each
//! `tests/passes/*.txt` holds cases of the form
//!
//! ```text
//! === a title
//! passes: fold-pad, dce
//! --- input
//! <a graph in tinyq_ir::text form>
//! --- expected
//! ; fold-pad: 1 PAD op folded into the next op's padding
//! ; dce: unchanged
//! <the graph after the passes, or `same as input`>
//! ```
//!
//! The runner parses the input, runs the passes through a `Pipeline` with
//! the verifier after each, and compares the pass summaries and the printed
//! result with the expected section. `TINYQ_BLESS=1` rewrites the expected
//! sections instead. Every case is also checked for exactness: when the
//! input lowers, the input and the result run on the extreme and random
//! inputs and must agree on every byte.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tinyq_ir::text::{parse, print};
use tinyq_opt::Pipeline;
use tinyq_opt::passes::by_name;
use tinyq_tests::differential::{Verdict, compare};

/// One case of a filetest file.
#[derive(Debug)]
struct Case {
    title: String,
    /// 1-based line of the `===` line.
    line: usize,
    passes: Vec<String>,
    /// 1-based line of the first input line.
    input_line: usize,
    input: String,
    /// 0-based line range of the expected section's body in the file,
    /// trailing blank lines excluded (always set once the file is read).
    expected: Option<(usize, usize)>,
}

fn parse_file(text: &str) -> Result<Vec<Case>, String> {
    #[derive(PartialEq)]
    enum State {
        Header,
        Preamble,
        Input,
        Expected,
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut cases: Vec<Case> = Vec::new();
    let mut state = State::Header;
    for (i, line) in lines.iter().enumerate() {
        if let Some(title) = line.strip_prefix("===") {
            cases.push(Case {
                title: title.trim().to_string(),
                line: i + 1,
                passes: Vec::new(),
                input_line: 0,
                input: String::new(),
                expected: None,
            });
            state = State::Preamble;
            continue;
        }
        let Some(case) = cases.last_mut() else {
            continue; // the file's header comments
        };
        let trimmed = line.trim();
        match state {
            State::Header => {}
            State::Preamble => {
                if let Some(list) = trimmed.strip_prefix("passes:") {
                    case.passes = list
                        .split(',')
                        .map(|p| p.trim().to_string())
                        .filter(|p| !p.is_empty())
                        .collect();
                } else if trimmed == "--- input" {
                    state = State::Input;
                    case.input_line = i + 2;
                } else if !(trimmed.is_empty() || trimmed.starts_with(';')) {
                    return Err(format!(
                        "line {}: expected `passes:` or `--- input`, found {trimmed:?}",
                        i + 1
                    ));
                }
            }
            State::Input => {
                if trimmed == "--- expected" {
                    state = State::Expected;
                    case.expected = Some((i + 1, i + 1));
                } else {
                    case.input.push_str(line);
                    case.input.push('\n');
                }
            }
            State::Expected => {
                if !trimmed.is_empty()
                    && let Some((_, end)) = &mut case.expected
                {
                    *end = i + 1;
                }
            }
        }
    }
    for case in &cases {
        if case.passes.is_empty() {
            return Err(format!("line {}: case without `passes:`", case.line));
        }
        if case.input_line == 0 {
            return Err(format!("line {}: case without `--- input`", case.line));
        }
        if case.expected.is_none() {
            return Err(format!(
                "line {}: case without `--- expected` (an empty one is fine: TINYQ_BLESS=1 fills it)",
                case.line
            ));
        }
    }
    Ok(cases)
}

/// What running a case produced.
struct Ran {
    /// The expected section as it should read.
    text: String,
    /// Why the exactness check could not run (the input does not lower).
    uncompared: Option<String>,
}

fn run_case(case: &Case, seed: u64) -> Result<Ran, String> {
    let input = parse(&case.input)
        .map_err(|e| format!("input line {}: {}", case.input_line + e.line - 1, e.message))?;
    tinyq_ir::validate(&input).map_err(|e| format!("the input graph is invalid: {e}"))?;
    let passes = case
        .passes
        .iter()
        .map(|name| by_name(name).ok_or_else(|| format!("unknown pass {name:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let pipeline = Pipeline::new(passes).verify_each(true);
    let mut output = input.clone();
    let reports = pipeline.run(&mut output).map_err(|e| e.to_string())?;
    let mut text = String::new();
    for r in &reports {
        let summary = if r.outcome.is_changed() {
            r.outcome.summary.as_str()
        } else {
            "unchanged"
        };
        let _ = writeln!(text, "; {}: {summary}", r.pass);
    }
    let printed = print(&output);
    if printed == print(&input) {
        text.push_str("same as input\n");
    } else {
        // The expected text must itself be a graph that reads back.
        let back = parse(&printed).map_err(|e| format!("the result does not parse: {e}"))?;
        if back != output {
            return Err("the result does not round-trip through the text format".into());
        }
        text.push_str(&printed);
    }
    let uncompared = match compare(&input, &output, seed, 8)? {
        Verdict::Equal(_) => None,
        Verdict::ReferenceFails(why) => Some(why),
    };
    Ok(Ran { text, uncompared })
}

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("passes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// The file with every case's expected section replaced by `texts`.
fn blessed(text: &str, cases: &[Case], texts: &[Option<String>]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut next = 0;
    for (case, new) in cases.iter().zip(texts) {
        let (Some((start, end)), Some(new)) = (case.expected, new) else {
            continue;
        };
        for line in &lines[next..start] {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(new);
        next = end;
    }
    for line in &lines[next..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn pass_filetests() {
    let bless = std::env::var_os("TINYQ_BLESS").is_some_and(|v| v == "1");
    let files = files();
    assert!(!files.is_empty(), "no filetests in tests/passes");
    let mut failures = Vec::new();
    let mut total = 0;
    let mut uncompared = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let text = std::fs::read_to_string(path).expect("readable filetest");
        let cases = match parse_file(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut texts = Vec::new();
        for (k, case) in cases.iter().enumerate() {
            total += 1;
            let seed = (k as u64) << 8 | name.len() as u64;
            let ran = match run_case(case, seed) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{name}:{} ({}): {e}", case.line, case.title));
                    texts.push(None);
                    continue;
                }
            };
            if let Some(why) = &ran.uncompared {
                uncompared.push(format!("{name}:{} ({}): {why}", case.line, case.title));
            }
            let current: String = case.expected.map_or_else(String::new, |(start, end)| {
                text.lines()
                    .skip(start)
                    .take(end - start)
                    .map(|l| format!("{}\n", l.trim_end()))
                    .collect()
            });
            if current != ran.text && !bless {
                failures.push(format!(
                    "{name}:{} ({}): the result differs from the expected section \
                     (run with TINYQ_BLESS=1 to accept it)\n--- expected\n{}--- actual\n{}",
                    case.line, case.title, current, ran.text
                ));
            }
            texts.push(Some(ran.text));
        }
        if bless {
            let new = blessed(&text, &cases, &texts);
            if new != text {
                std::fs::write(path, new).expect("writable filetest");
                println!("blessed {name}");
            }
        }
    }
    println!(
        "{total} filetest cases in {} files; {} also checked byte-exact against the unoptimized graph",
        files.len(),
        total - uncompared.len()
    );
    for line in &uncompared {
        println!("  not lowerable, so not compared: {line}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
