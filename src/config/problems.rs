//! Configuration problems: each names its file, line and key, and they are reported all at once.

use std::fmt;

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as the operator named it.
    pub file: String,
    /// 1-based line of the offending key, when it could be located.
    pub line: Option<usize>,
    /// The key path, e.g. `apps[2].scope`; empty for file-level problems.
    pub key: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one load; a load succeeds only when this stays empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records a problem.
    pub fn push(&mut self, file: &str, line: Option<usize>, key: &str, message: impl Into<String>) {
        self.0.push(Problem {
            file: file.to_string(),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Moves all problems of `other` into this list.
    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    /// `Ok(value)` when no problem was recorded, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// A list with one problem.
    pub fn single(file: &str, key: &str, message: impl Into<String>) -> Self {
        let mut p = Self::default();
        p.push(file, None, key, message);
        p
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
