//! The CRM's REST operations and what the gateway does with each (the contract's table: read,
//! write, always denied), with the overrides of `[proxy.operations]` merged over it.

use std::collections::HashMap;

use crate::token::scope::Access;

/// What the gateway does with an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpClass {
    /// Needs a scope with [`Access::Read`].
    Read,
    /// Needs a scope with [`Access::Write`].
    Write,
    /// Never forwarded, whatever the scope.
    Deny,
}

impl OpClass {
    /// The access an allowed operation needs; `None` for denied ones.
    pub fn access(self) -> Option<Access> {
        match self {
            OpClass::Read => Some(Access::Read),
            OpClass::Write => Some(Access::Write),
            OpClass::Deny => None,
        }
    }

    /// Parses `read`, `write` or `deny`.
    pub fn parse(s: &str) -> Option<OpClass> {
        match s {
            "read" => Some(OpClass::Read),
            "write" => Some(OpClass::Write),
            "deny" => Some(OpClass::Deny),
            _ => None,
        }
    }
}

const READ_OPS: &[&str] = &[
    "query",
    "retrieve",
    "retrieveinventory",
    "describe",
    "describeall",
    "listtypes",
    "getmenulist",
    "getlabels",
    "getlangs",
    "dynaformdescribe",
];
const WRITE_OPS: &[&str] = &[
    "create",
    "update",
    "revise",
    "delete",
    "relate",
    "convertlead",
];
const DENIED_OPS: &[&str] = &["loginpwd", "processhandler"];

/// Operation name → class. Names are lower case; unknown operations are denied.
#[derive(Debug, Clone)]
pub struct OperationTable {
    ops: HashMap<String, OpClass>,
}

impl Default for OperationTable {
    fn default() -> Self {
        let mut ops = HashMap::new();
        for (list, class) in [
            (READ_OPS, OpClass::Read),
            (WRITE_OPS, OpClass::Write),
            (DENIED_OPS, OpClass::Deny),
        ] {
            for op in list {
                ops.insert((*op).to_string(), class);
            }
        }
        Self { ops }
    }
}

impl OperationTable {
    /// The default table with `overrides` applied on top.
    pub fn with_overrides<'a>(overrides: impl IntoIterator<Item = (&'a str, OpClass)>) -> Self {
        let mut table = Self::default();
        for (op, class) in overrides {
            table.ops.insert(op.to_ascii_lowercase(), class);
        }
        table
    }

    /// The class of `op` (already lower case). `*extra` operations are reads unless listed.
    pub fn classify(&self, op: &str) -> OpClass {
        if let Some(class) = self.ops.get(op) {
            return *class;
        }
        if op.len() > "extra".len() && op.ends_with("extra") {
            return OpClass::Read;
        }
        OpClass::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_contract() {
        let t = OperationTable::default();
        assert_eq!(t.classify("query"), OpClass::Read);
        assert_eq!(t.classify("getrelatedextra"), OpClass::Read);
        assert_eq!(t.classify("create"), OpClass::Write);
        assert_eq!(t.classify("loginpwd"), OpClass::Deny);
        assert_eq!(t.classify("processhandler"), OpClass::Deny);
        assert_eq!(t.classify("extra"), OpClass::Deny);
        assert_eq!(t.classify("sync"), OpClass::Deny);
        let t = OperationTable::with_overrides([("Sync", OpClass::Read), ("query", OpClass::Deny)]);
        assert_eq!(t.classify("sync"), OpClass::Read);
        assert_eq!(t.classify("query"), OpClass::Deny);
    }
}
