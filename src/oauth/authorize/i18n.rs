//! The words of the login and consent pages, in English and Italian, chosen by `Accept-Language`.
//! They come from the one catalog of every page, `admin-assets/i18n.json` (the admin and account
//! pages load the same file from `/gateway/assets/i18n.json`), built into the binary and checked
//! at start-up.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::token::scope::Scope;

/// The catalog: per language, every text of every page by key.
const CATALOG: &str = include_str!("../../../admin-assets/i18n.json");

/// The two languages of the catalog, as the login and consent pages read them.
#[derive(Deserialize)]
struct Catalog {
    en: Text,
    it: Text,
}

static TEXTS: LazyLock<Result<Catalog, String>> =
    LazyLock::new(|| serde_json::from_str(CATALOG).map_err(|e| e.to_string()));

/// Texts with nothing in them, only ever served if the catalog were broken (start-up refuses).
static EMPTY: LazyLock<Text> = LazyLock::new(Text::default);

/// Whether the catalog has every text the login and consent pages need, in both languages.
pub fn check() -> Result<(), String> {
    TEXTS
        .as_ref()
        .map(|_| ())
        .map_err(|e| format!("admin-assets/i18n.json: {e}"))
}

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Italian.
    It,
}

impl Lang {
    /// The best of English and Italian for an `Accept-Language` value (English by default).
    pub fn negotiate(accept: Option<&str>) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.unwrap_or_default().split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or_default() {
                "it" => Lang::It,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::It => "it",
        }
    }

    /// The texts of this language.
    pub fn text(self) -> &'static Text {
        match (TEXTS.as_ref(), self) {
            (Ok(c), Lang::En) => &c.en,
            (Ok(c), Lang::It) => &c.it,
            (Err(_), _) => &EMPTY,
        }
    }
}

/// Every phrase of the login and consent pages (keys `consent.*` and the scope words).
#[derive(Debug, Default, Deserialize)]
pub struct Text {
    /// Login page title.
    #[serde(rename = "consent.sign_in_title")]
    pub sign_in_title: String,
    /// "to continue to"
    #[serde(rename = "consent.sign_in_to")]
    pub sign_in_to: String,
    /// Username label.
    #[serde(rename = "consent.username")]
    pub username: String,
    /// Password label.
    #[serde(rename = "consent.password")]
    pub password: String,
    /// Sign-in button.
    #[serde(rename = "consent.sign_in")]
    pub sign_in: String,
    /// Wrong credentials.
    #[serde(rename = "consent.bad_login")]
    pub bad_login: String,
    /// Too many attempts.
    #[serde(rename = "consent.throttled")]
    pub throttled: String,
    /// Consent page title.
    #[serde(rename = "consent.consent_title")]
    pub consent_title: String,
    /// "wants to"
    #[serde(rename = "consent.wants_to")]
    pub wants_to: String,
    /// Read scope in plain words.
    #[serde(rename = "scope.words.rest.all.read")]
    pub read: String,
    /// Write scope in plain words.
    #[serde(rename = "scope.words.rest.all.write")]
    pub write: String,
    /// Read and write in plain words.
    #[serde(rename = "scope.words.rest.all")]
    pub read_write: String,
    /// Offline access in plain words.
    #[serde(rename = "consent.offline")]
    pub offline: String,
    /// "Signed in as"
    #[serde(rename = "consent.signed_in_as")]
    pub signed_in_as: String,
    /// Allow button.
    #[serde(rename = "consent.allow")]
    pub allow: String,
    /// Deny button.
    #[serde(rename = "consent.deny")]
    pub deny: String,
    /// Error page title.
    #[serde(rename = "consent.error_title")]
    pub error_title: String,
    /// Unknown client.
    #[serde(rename = "consent.unknown_app")]
    pub unknown_app: String,
    /// Bad redirect URI.
    #[serde(rename = "consent.bad_redirect")]
    pub bad_redirect: String,
    /// Malformed request.
    #[serde(rename = "consent.bad_request")]
    pub bad_request: String,
    /// OAuth2 disabled.
    #[serde(rename = "consent.oauth_disabled")]
    pub oauth_disabled: String,
    /// App disabled.
    #[serde(rename = "consent.app_disabled")]
    pub app_disabled: String,
    /// The sign-in request expired.
    #[serde(rename = "consent.expired")]
    pub expired: String,
    /// CSRF failure.
    #[serde(rename = "consent.forbidden")]
    pub forbidden: String,
    /// The form was posted from another site.
    #[serde(rename = "consent.cross_site")]
    pub cross_site: String,
    /// The form was posted from another browser than the one that started the request.
    #[serde(rename = "consent.other_browser")]
    pub other_browser: String,
    /// Admin users may not authorize.
    #[serde(rename = "consent.admin_refused")]
    pub admin_refused: String,
    /// User not among the authorized ones.
    #[serde(rename = "consent.not_authorized")]
    pub not_authorized: String,
    /// Link back to the app.
    #[serde(rename = "consent.back_to_app")]
    pub back_to_app: String,
    /// Server trouble.
    #[serde(rename = "consent.server_error")]
    pub server_error: String,
}

impl Text {
    /// What `scope` lets the app do, in plain words.
    pub fn scope_words(&self, scope: Scope) -> &str {
        match (
            scope.allows(crate::token::scope::Access::Read),
            scope.allows(crate::token::scope::Access::Write),
        ) {
            (true, true) => &self.read_write,
            (false, true) => &self.write,
            _ => &self.read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_every_text_in_both_languages() {
        check().unwrap();
        for lang in [Lang::En, Lang::It] {
            let t = lang.text();
            assert!(!t.sign_in_title.is_empty() && !t.server_error.is_empty());
        }
        assert_eq!(Lang::En.text().read, "read your CRM data");
        assert_eq!(Lang::It.text().allow, "Consenti");
    }

    #[test]
    fn negotiation_follows_q_values() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("it-IT,it;q=0.9,en;q=0.8")), Lang::It);
        assert_eq!(Lang::negotiate(Some("de,en;q=0.5,it;q=0.7")), Lang::It);
        assert_eq!(Lang::negotiate(Some("fr,de")), Lang::En);
        assert_eq!(Lang::negotiate(Some("it;q=0,en;q=0.1")), Lang::En);
    }
}
