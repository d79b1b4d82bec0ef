//! A parsed TOML file that keeps source spans, so every problem can name its line and key.
//!
//! Each section or array entry is deserialized on its own: one bad `[[apps]]` entry does not hide
//! the problems of the next, and `deny_unknown_fields` errors point at the offending key.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::Problems;

/// A TOML document with its source, ready to be decoded section by section.
pub struct TomlDoc<'i> {
    file: String,
    raw: &'i str,
    root: DeTable<'i>,
}

/// A value of the document with its span.
pub type Node<'i> = Spanned<DeValue<'i>>;

impl<'i> TomlDoc<'i> {
    /// Parses `raw`; syntax errors are all reported, each with its line.
    pub fn parse(file: &str, raw: &'i str) -> Result<Self, Problems> {
        let (root, errors) = DeTable::parse_recoverable(raw);
        let doc = Self {
            file: file.to_string(),
            raw,
            root: root.into_inner(),
        };
        let mut problems = Problems::default();
        for e in errors {
            // A few errors (the parser's "recursion limit" on a key of more than 80 dotted
            // parts) have no span: they concern the file as a whole, line 1.
            let line = e.span().map_or(1, |s| doc.line(&s));
            problems.push(file, Some(line), "", e.message().to_string());
        }
        problems.into_result(doc)
    }

    /// The file name used in problems.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line of a byte offset range.
    pub fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.raw.len());
        self.raw.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The top-level value under `key`.
    pub fn get(&self, key: &str) -> Option<&Node<'i>> {
        find(&self.root, key).map(|(_, v)| v)
    }

    /// Reports every top-level key not in `allowed`.
    pub fn check_top_keys(&self, allowed: &[&str], problems: &mut Problems) {
        for (k, _) in self.root.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let line = self.line(&k.span());
                let expected = allowed.join(", ");
                let msg = format!("unknown section `{name}`, expected one of: {expected}");
                problems.push(&self.file, Some(line), name, msg);
            }
        }
    }

    /// Decodes one value into `T`; a failure is recorded under `key` with its line.
    pub fn decode<T: DeserializeOwned>(
        &self,
        key: &str,
        node: &Node<'i>,
        problems: &mut Problems,
    ) -> Option<T> {
        let de = ValueDeserializer::from(node.clone());
        match T::deserialize(de) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| node.span());
                let line = self.line(&span);
                problems.push(&self.file, Some(line), key, e.message().to_string());
                None
            }
        }
    }

    /// Decodes the top-level section `key`, or `T::default()` when it is absent.
    pub fn section<T: DeserializeOwned + Default>(
        &self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<T> {
        match self.get(key) {
            Some(node) => self.decode(key, node, problems),
            None => Some(T::default()),
        }
    }

    /// The entries of the top-level array `key` (`[[key]]`), each with its index.
    pub fn entries(&self, key: &str, problems: &mut Problems) -> Vec<&Node<'i>> {
        match self.get(key).map(|n| (n, n.get_ref())) {
            None => Vec::new(),
            Some((_, DeValue::Array(items))) => items.iter().collect(),
            Some((node, _)) => {
                let line = self.line(&node.span());
                problems.push(&self.file, Some(line), key, "must be an array of tables");
                Vec::new()
            }
        }
    }

    /// Line of `key` inside the table `node`, or of the table itself when the key is absent.
    pub fn key_line(&self, node: &Node<'i>, key: &str) -> usize {
        let span = match node.get_ref() {
            DeValue::Table(t) => find(t, key).map_or_else(|| node.span(), |(k, _)| k.span()),
            _ => node.span(),
        };
        self.line(&span)
    }
}

fn find<'a, 'i>(
    table: &'a DeTable<'i>,
    key: &str,
) -> Option<(&'a Spanned<toml::de::DeString<'i>>, &'a Node<'i>)> {
    table.iter().find(|(k, _)| {
        let name: &str = k.get_ref();
        name == key
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line_for_every_entry() {
        let raw = "[[apps]]\nname = \"a\"\nnmae = \"x\"\n\n[[apps]]\nname = \"b\"\nbogus = 1\n";
        let doc = TomlDoc::parse("apps.toml", raw).unwrap();
        let mut problems = Problems::default();
        let entries = doc.entries("apps", &mut problems);
        for (i, node) in entries.iter().enumerate() {
            let _ = doc.decode::<Entry>(&format!("apps[{i}]"), node, &mut problems);
        }
        let lines: Vec<_> = problems.0.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![Some(3), Some(7)], "{problems}");
        assert!(problems.0[0].message.contains("nmae"));
    }

    #[test]
    fn errors_without_a_span_get_line_one() {
        // Found by the toml_loaders fuzz target: a key of more than 80 dotted parts makes the
        // parser report "recursion limit" without a span, and the problem had no line.
        let raw = format!("# deep\n{} = 1\n", vec!["a"; 100].join("."));
        let err = TomlDoc::parse("x.toml", &raw).err().unwrap();
        assert!(err.0.iter().all(|p| p.line.is_some()), "{err}");
        assert!(
            err.to_string().starts_with("x.toml:1: recursion limit"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = TomlDoc::parse("x.toml", "a = 1\nb = \n").err().unwrap();
        assert_eq!(err.0[0].line, Some(2), "{err}");
    }
}
