//! Seed data of the demo CRM: a few modules with records owned by different users, so two
//! users querying the same module see different rows.

use serde_json::{Value, json};

/// A CRM record: its module, owner, optional sharing group and fields.
#[derive(Debug, Clone)]
pub struct Record {
    /// Module name, e.g. `Invoice`.
    pub module: String,
    /// Owning username.
    pub owner: String,
    /// Group the record is shared with, if any.
    pub group: Option<String>,
    /// Fields, including `id`.
    pub fields: serde_json::Map<String, Value>,
}

/// Module name and its vtews id prefix.
pub const MODULES: &[(&str, &str)] = &[("Accounts", "11"), ("Contacts", "12"), ("Invoice", "7")];

fn record(module: &str, id: &str, owner: &str, group: Option<&str>, fields: Value) -> Record {
    let mut map = match fields {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    map.insert("id".into(), json!(id));
    map.insert("assigned_user_id".into(), json!(owner));
    Record {
        module: module.into(),
        owner: owner.into(),
        group: group.map(str::to_string),
        fields: map,
    }
}

/// The records every demo CRM starts with.
pub fn seed() -> Vec<Record> {
    let mut all = invoices();
    all.extend(accounts_and_contacts());
    all
}

fn invoices() -> Vec<Record> {
    vec![
        record(
            "Invoice",
            "7x1",
            "aldo",
            None,
            json!({"invoice_no": "INV-001", "subject": "Consulenza Q1", "total": "1200.00"}),
        ),
        record(
            "Invoice",
            "7x2",
            "aldo",
            None,
            json!({"invoice_no": "INV-002", "subject": "Licenze software", "total": "3400.00"}),
        ),
        record(
            "Invoice",
            "7x3",
            "bruna",
            None,
            json!({"invoice_no": "INV-003", "subject": "Manutenzione impianto", "total": "800.00"}),
        ),
        record(
            "Invoice",
            "7x4",
            "carla",
            Some("support"),
            json!({"invoice_no": "INV-004", "subject": "Formazione", "total": "1500.00"}),
        ),
        record(
            "Invoice",
            "7x5",
            "admin",
            None,
            json!({"invoice_no": "INV-005", "subject": "Hardware server", "total": "5200.00"}),
        ),
    ]
}

fn accounts_and_contacts() -> Vec<Record> {
    vec![
        record(
            "Accounts",
            "11x1",
            "aldo",
            None,
            json!({"accountname": "Rossi S.r.l.", "bill_city": "Milano"}),
        ),
        record(
            "Accounts",
            "11x2",
            "bruna",
            None,
            json!({"accountname": "Bianchi S.p.A.", "bill_city": "Torino"}),
        ),
        record(
            "Contacts",
            "12x1",
            "aldo",
            None,
            json!({"firstname": "Marco", "lastname": "Verdi"}),
        ),
        record(
            "Contacts",
            "12x2",
            "bruna",
            Some("support"),
            json!({"firstname": "Giulia", "lastname": "Neri"}),
        ),
    ]
}
