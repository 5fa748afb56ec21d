//! Reading secrets: from standard input (one per line, for scripts), an environment variable,
//! or a terminal prompt that does not echo. Never from a command-line argument.

use anyhow::{Context, bail};
use casemate_types::Sensitive;
use std::io::{BufRead, IsTerminal};

/// Reads successive lines of standard input through one buffer, so a password and a TOTP code
/// piped on two lines both arrive.
pub struct Stdin {
    lines: std::io::Lines<std::io::StdinLock<'static>>,
}

impl Stdin {
    pub fn new() -> Self {
        Self {
            lines: std::io::stdin().lock().lines(),
        }
    }

    pub fn secret_line(&mut self, what: &str) -> anyhow::Result<Sensitive> {
        let line = self
            .lines
            .next()
            .with_context(|| format!("expected the {what} on standard input, found end of input"))?
            .with_context(|| format!("reading the {what} from standard input"))?;
        let value = Sensitive::new(line.trim_end_matches(['\r', '\n']));
        if value.is_empty() {
            bail!("the {what} read from standard input is empty");
        }
        Ok(value)
    }
}

pub fn prompt_secret(prompt: &str) -> anyhow::Result<Sensitive> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "cannot prompt for {prompt}: standard input is not a terminal (use the --*-stdin or --*-env options)"
        );
    }
    let value =
        rpassword::prompt_password(format!("{prompt}: ")).context("reading from the terminal")?;
    Ok(Sensitive::new(value))
}

pub fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        bail!("cannot prompt for {prompt}: standard input is not a terminal");
    }
    eprint!("{prompt}: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading from the terminal")?;
    Ok(line.trim().to_owned())
}

pub fn from_env(variable: &str) -> anyhow::Result<Sensitive> {
    let value = std::env::var(variable)
        .with_context(|| format!("environment variable {variable} is not set"))?;
    if value.is_empty() {
        bail!("environment variable {variable} is empty");
    }
    Ok(Sensitive::new(value))
}
