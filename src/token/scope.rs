//! The scope type: which kinds of CRM operation a token allows (`rest.all`, `.read`, `.write`).

use std::fmt;

/// The kind of access a CRM operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Operations that only read data (query, retrieve, describe, ...).
    Read,
    /// Operations that change data (create, update, delete, ...).
    Write,
}

/// A validated set of accesses; parsed from and printed as the OAuth scope strings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Scope {
    read: bool,
    write: bool,
}

/// The scope names this gateway knows, most general first.
pub const SCOPE_NAMES: [&str; 3] = ["rest.all", "rest.all.read", "rest.all.write"];

impl Scope {
    /// Read and write (`rest.all`).
    pub const ALL: Scope = Scope {
        read: true,
        write: true,
    };
    /// Read only (`rest.all.read`).
    pub const READ: Scope = Scope {
        read: true,
        write: false,
    };
    /// Write only (`rest.all.write`).
    pub const WRITE: Scope = Scope {
        read: false,
        write: true,
    };
    /// Nothing.
    pub const NONE: Scope = Scope {
        read: false,
        write: false,
    };

    /// Parses a space-separated OAuth scope string (RFC 6749 §3.3). Unknown names are an error;
    /// an empty string is `None`.
    pub fn parse(s: &str) -> Result<Option<Scope>, String> {
        let mut scope = Scope::NONE;
        let mut any = false;
        for name in s.split(' ').filter(|n| !n.is_empty()) {
            any = true;
            scope = scope.union(match name {
                "rest.all" => Scope::ALL,
                "rest.all.read" => Scope::READ,
                "rest.all.write" => Scope::WRITE,
                _ => return Err(format!("unknown scope {name:?}")),
            });
        }
        Ok(any.then_some(scope))
    }

    /// True when an operation needing `access` is allowed.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => self.read,
            Access::Write => self.write,
        }
    }

    /// True when every access of `other` is also in `self`.
    pub fn contains(self, other: Scope) -> bool {
        (self.read || !other.read) && (self.write || !other.write)
    }

    /// Accesses in both.
    pub fn intersect(self, other: Scope) -> Scope {
        Scope {
            read: self.read && other.read,
            write: self.write && other.write,
        }
    }

    /// Accesses in either.
    pub fn union(self, other: Scope) -> Scope {
        Scope {
            read: self.read || other.read,
            write: self.write || other.write,
        }
    }

    /// The canonical scope string ("" for no access).
    pub fn as_str(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "rest.all",
            (true, false) => "rest.all.read",
            (false, true) => "rest.all.write",
            (false, false) => "",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_combinations() {
        assert_eq!(Scope::parse("rest.all").unwrap(), Some(Scope::ALL));
        assert_eq!(Scope::parse("rest.all.read").unwrap(), Some(Scope::READ));
        assert_eq!(
            Scope::parse("rest.all.read rest.all.write").unwrap(),
            Some(Scope::ALL)
        );
        assert_eq!(Scope::parse("").unwrap(), None);
        assert!(Scope::parse("rest.all admin").is_err());
        assert!(Scope::parse("REST.ALL").is_err());
    }

    #[test]
    fn allows_and_contains() {
        assert!(Scope::READ.allows(Access::Read));
        assert!(!Scope::READ.allows(Access::Write));
        assert!(Scope::WRITE.allows(Access::Write));
        assert!(Scope::ALL.contains(Scope::READ));
        assert!(!Scope::READ.contains(Scope::ALL));
        assert_eq!(Scope::ALL.intersect(Scope::WRITE), Scope::WRITE);
        assert_eq!(Scope::READ.intersect(Scope::WRITE).as_str(), "");
    }
}
