//! The demo CRM's REST operations, a small look-alike of vtenext's `vtews`: query, retrieve,
//! create, update, delete, describe, listtypes and loginpwd, each applying the caller's visibility.

use serde_json::{Value, json};

use super::crm::CrmUser;
use super::data::{MODULES, Record};

/// The data and users of one demo CRM.
pub struct Crm {
    /// Known users.
    pub users: Vec<CrmUser>,
    /// All records.
    pub records: Vec<Record>,
    next_id: u64,
}

/// An operation's outcome: HTTP status and `{"status", "data" | "error"}` body.
pub type Outcome = (u16, Value);

fn ok(data: Value) -> Outcome {
    (200, json!({"status": 200, "data": data}))
}

fn err(status: u16, msg: &str) -> Outcome {
    (status, json!({"status": status, "error": msg}))
}

impl Crm {
    /// A CRM with the seed data.
    pub fn new(users: Vec<CrmUser>) -> Self {
        Self {
            users,
            records: super::data::seed(),
            next_id: 100,
        }
    }

    fn visible(&self, user: &CrmUser, r: &Record) -> bool {
        user.admin
            || r.owner == user.username
            || r.group.as_ref().is_some_and(|g| user.groups.contains(g))
    }

    /// Runs `op` as `user` with the JSON `body`.
    pub fn call(&mut self, op: &str, user: &CrmUser, body: &Value) -> Outcome {
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match op {
            "query" => self.query(user, &s("query")),
            "retrieve" => self
                .find(user, &s("id"))
                .map_or_else(|| err(404, "record not found"), ok),
            "create" => self.create(user, &s("elementType"), body.get("element")),
            "update" => self.update(user, body.get("element")),
            "delete" => self.delete(user, &s("id")),
            "describe" => describe(user, &s("elementType")),
            "listtypes" => {
                ok(json!({"types": MODULES.iter().map(|(m, _)| *m).collect::<Vec<_>>()}))
            }
            _ => err(404, "unknown operation"),
        }
    }

    fn find(&self, user: &CrmUser, id: &str) -> Option<Value> {
        self.records
            .iter()
            .find(|r| {
                r.fields.get("id").and_then(Value::as_str) == Some(id) && self.visible(user, r)
            })
            .map(|r| Value::Object(r.fields.clone()))
    }

    fn query(&self, user: &CrmUser, q: &str) -> Outcome {
        let Some(parsed) = parse_query(q) else {
            return err(400, "query not understood; try SELECT * FROM Invoice;");
        };
        if parsed.module.eq_ignore_ascii_case("Users") {
            // vtenext 20.04: only administrators may read the fields of Users.
            if !user.admin {
                return denied("Permission to access '.user_name.' attribute denied.");
            }
            let wanted = parsed.filter.as_ref().map(|(_, v)| v.as_str());
            let rows: Vec<Value> = self
                .users
                .iter()
                .filter(|u| wanted.is_none_or(|w| w == u.username))
                .map(|u| {
                    let is_admin = if u.admin { "on" } else { "off" };
                    json!({"user_name": u.username, "is_admin": is_admin})
                })
                .collect();
            return ok(Value::Array(rows));
        }
        if parsed.module.eq_ignore_ascii_case("Groups") {
            // vtenext 20.04 cannot query actor modules: a PHP fatal error, for every user.
            return (
                500,
                json!({"status": 500, "success": false, "error": 0,
                    "message": "Call to undefined method VtenextCRMActorMeta::getEntitylistQueryNonAdminChange()",
                    "file": "include/Webservices/VTQL_Parser.php"}),
            );
        }
        let rows: Vec<Value> = self
            .records
            .iter()
            .filter(|r| r.module.eq_ignore_ascii_case(&parsed.module) && self.visible(user, r))
            .filter(|r| {
                parsed.filter.as_ref().is_none_or(|(f, v)| {
                    r.fields.get(f).and_then(Value::as_str) == Some(v.as_str())
                })
            })
            .take(parsed.limit.unwrap_or(usize::MAX))
            .map(|r| Value::Object(r.fields.clone()))
            .collect();
        ok(Value::Array(rows))
    }

    fn create(&mut self, user: &CrmUser, module: &str, element: Option<&Value>) -> Outcome {
        let Some((name, prefix)) = MODULES.iter().find(|(m, _)| m.eq_ignore_ascii_case(module))
        else {
            return err(400, "unknown elementType");
        };
        let Some(Value::Object(fields)) = element else {
            return err(400, "element must be an object");
        };
        self.next_id += 1;
        let mut fields = fields.clone();
        let id = format!("{prefix}x{}", self.next_id);
        fields.insert("id".into(), json!(id));
        fields.insert("assigned_user_id".into(), json!(user.username));
        self.records.push(Record {
            module: (*name).into(),
            owner: user.username.clone(),
            group: None,
            fields: fields.clone(),
        });
        ok(Value::Object(fields))
    }

    fn update(&mut self, user: &CrmUser, element: Option<&Value>) -> Outcome {
        let Some(Value::Object(changes)) = element else {
            return err(400, "element must be an object");
        };
        let id = changes
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.find(user, &id).is_none() {
            return err(404, "record not found");
        }
        let Some(r) = self
            .records
            .iter_mut()
            .find(|r| r.fields.get("id") == Some(&json!(id)))
        else {
            return err(404, "record not found");
        };
        for (k, v) in changes {
            if k != "assigned_user_id" {
                r.fields.insert(k.clone(), v.clone());
            }
        }
        ok(Value::Object(r.fields.clone()))
    }

    fn delete(&mut self, user: &CrmUser, id: &str) -> Outcome {
        if self.find(user, id).is_none() {
            return err(404, "record not found");
        }
        self.records
            .retain(|r| r.fields.get("id").and_then(Value::as_str) != Some(id));
        ok(json!({"status": "successful"}))
    }
}

/// A permission denial as vtenext answers it: HTTP 500, `WebServiceException`.
fn denied(message: &str) -> Outcome {
    (
        500,
        json!({"status": 500, "error": "WebServiceException", "message": message}),
    )
}

fn describe(user: &CrmUser, module: &str) -> Outcome {
    if module.eq_ignore_ascii_case("Users") {
        // Administrators see every field of Users; everyone else only `id`.
        let names: &[&str] = if user.admin {
            &["user_name", "is_admin", "status", "id"]
        } else {
            &["id"]
        };
        let fields: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
        return ok(
            json!({"name": "Users", "idPrefix": "19", "createable": user.admin, "fields": fields}),
        );
    }
    match MODULES.iter().find(|(m, _)| m.eq_ignore_ascii_case(module)) {
        Some((name, prefix)) => ok(json!({"name": name, "idPrefix": prefix, "createable": true})),
        None => err(400, "unknown elementType"),
    }
}

struct Query {
    module: String,
    filter: Option<(String, String)>,
    limit: Option<usize>,
}

/// `SELECT ... FROM Module [WHERE field = 'value'] [LIMIT n][;]`, keywords in any case.
fn parse_query(q: &str) -> Option<Query> {
    let q = q.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = q.split_whitespace().collect();
    let kw = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if !kw(0, "select") {
        return None;
    }
    let from = words.iter().position(|w| w.eq_ignore_ascii_case("from"))?;
    let module = words.get(from + 1)?.to_string();
    let mut i = from + 2;
    let mut filter = None;
    if kw(i, "where") && words.get(i + 2) == Some(&"=") {
        let value = words.get(i + 3)?.trim_matches('\'').to_string();
        filter = Some((words.get(i + 1)?.to_string(), value));
        i += 4;
    }
    let mut limit = None;
    if kw(i, "limit") {
        limit = Some(words.get(i + 1)?.parse().ok()?);
        i += 2;
    }
    (i == words.len()).then_some(Query {
        module,
        filter,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_queries() {
        let q = parse_query("SELECT * FROM Invoice;").unwrap();
        assert_eq!(q.module, "Invoice");
        let q = parse_query("select subject from Invoice where invoice_no = 'INV-001' limit 1")
            .unwrap();
        assert_eq!(q.filter, Some(("invoice_no".into(), "INV-001".into())));
        assert_eq!(q.limit, Some(1));
        assert!(parse_query("DROP TABLE x").is_none());
    }
}
