//! `crmgate hash-password`: a password typed at a terminal (no echo, asked twice) or read from
//! stdin, printed as its argon2id PHC string.

use std::io::{IsTerminal, Read};

/// Reads the password and prints its hash.
pub fn run() -> Result<(), String> {
    let password = if std::io::stdin().is_terminal() {
        typed()?
    } else {
        piped()?
    };
    if password.is_empty() {
        return Err("empty password".into());
    }
    println!("{}", crate::generate::hash_password(&password)?);
    Ok(())
}

/// Asks twice without echo.
fn typed() -> Result<String, String> {
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt).map_err(|e| format!("cannot read the password: {e}"))
    };
    let first = read("Password: ")?;
    if read("Again: ")? != first {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

/// The first line of stdin (at most 4 KiB), without its line end.
fn piped() -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(password.to_string())
}
