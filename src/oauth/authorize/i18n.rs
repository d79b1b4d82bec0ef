//! The words of the login and consent pages, in English and Italian, chosen by `Accept-Language`.

use crate::token::scope::Scope;

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
        match self {
            Lang::En => &EN,
            Lang::It => &IT,
        }
    }
}

/// Every phrase of the pages.
pub struct Text {
    /// Login page title.
    pub sign_in_title: &'static str,
    /// "to continue to"
    pub sign_in_to: &'static str,
    /// Username label.
    pub username: &'static str,
    /// Password label.
    pub password: &'static str,
    /// Sign-in button.
    pub sign_in: &'static str,
    /// Wrong credentials.
    pub bad_login: &'static str,
    /// Too many attempts.
    pub throttled: &'static str,
    /// Consent page title.
    pub consent_title: &'static str,
    /// "wants to"
    pub wants_to: &'static str,
    /// Read scope in plain words.
    pub read: &'static str,
    /// Write scope in plain words.
    pub write: &'static str,
    /// Read and write in plain words.
    pub read_write: &'static str,
    /// Offline access in plain words.
    pub offline: &'static str,
    /// "Signed in as"
    pub signed_in_as: &'static str,
    /// Allow button.
    pub allow: &'static str,
    /// Deny button.
    pub deny: &'static str,
    /// Error page title.
    pub error_title: &'static str,
    /// Unknown client.
    pub unknown_app: &'static str,
    /// Bad redirect URI.
    pub bad_redirect: &'static str,
    /// Malformed request.
    pub bad_request: &'static str,
    /// OAuth2 disabled.
    pub oauth_disabled: &'static str,
    /// App disabled.
    pub app_disabled: &'static str,
    /// The sign-in request expired.
    pub expired: &'static str,
    /// CSRF failure.
    pub forbidden: &'static str,
    /// The form was posted from another site.
    pub cross_site: &'static str,
    /// The form was posted from another browser than the one that started the request.
    pub other_browser: &'static str,
    /// Admin users may not authorize.
    pub admin_refused: &'static str,
    /// User not among the authorized ones.
    pub not_authorized: &'static str,
    /// Link back to the app.
    pub back_to_app: &'static str,
    /// Server trouble.
    pub server_error: &'static str,
}

impl Text {
    /// What `scope` lets the app do, in plain words.
    pub fn scope_words(&self, scope: Scope) -> &'static str {
        match (
            scope.allows(crate::token::scope::Access::Read),
            scope.allows(crate::token::scope::Access::Write),
        ) {
            (true, true) => self.read_write,
            (false, true) => self.write,
            _ => self.read,
        }
    }
}

const EN: Text = Text {
    sign_in_title: "Sign in",
    sign_in_to: "to continue to",
    username: "Username",
    password: "Password",
    sign_in: "Sign in",
    bad_login: "Wrong username or password.",
    throttled: "Too many failed attempts. Wait a few minutes and try again.",
    consent_title: "Authorize application",
    wants_to: "wants to",
    read: "read your CRM data",
    write: "change your CRM data",
    read_write: "read and change your CRM data",
    offline: "keep this access when you are not using it, until you revoke it",
    signed_in_as: "Signed in as",
    allow: "Allow",
    deny: "Deny",
    error_title: "Authorization error",
    unknown_app: "This application is not registered.",
    bad_redirect: "The application sent a return address that is not registered for it.",
    bad_request: "The authorization request is malformed.",
    oauth_disabled: "Access through OAuth2 is disabled on this CRM.",
    app_disabled: "This application is disabled.",
    expired: "This sign-in request has expired. Go back to the application and start again.",
    forbidden: "The form could not be verified. Go back to the application and start again.",
    cross_site: "This form was sent from another site and was refused. Go back to the application and start again.",
    other_browser: "This sign-in was started in another browser, or this browser does not keep cookies. Go back to the application and start again.",
    admin_refused: "Administrator accounts cannot authorize applications.",
    not_authorized: "Your account is not allowed to use this application.",
    back_to_app: "Back to the application",
    server_error: "Something went wrong. Try again later.",
};

const IT: Text = Text {
    sign_in_title: "Accedi",
    sign_in_to: "per continuare su",
    username: "Nome utente",
    password: "Password",
    sign_in: "Accedi",
    bad_login: "Nome utente o password errati.",
    throttled: "Troppi tentativi falliti. Attendi qualche minuto e riprova.",
    consent_title: "Autorizza applicazione",
    wants_to: "vuole",
    read: "leggere i tuoi dati del CRM",
    write: "modificare i tuoi dati del CRM",
    read_write: "leggere e modificare i tuoi dati del CRM",
    offline: "mantenere questo accesso anche quando non la usi, finché non lo revochi",
    signed_in_as: "Accesso effettuato come",
    allow: "Consenti",
    deny: "Nega",
    error_title: "Errore di autorizzazione",
    unknown_app: "Questa applicazione non è registrata.",
    bad_redirect: "L'applicazione ha inviato un indirizzo di ritorno non registrato.",
    bad_request: "La richiesta di autorizzazione non è valida.",
    oauth_disabled: "L'accesso tramite OAuth2 è disabilitato su questo CRM.",
    app_disabled: "Questa applicazione è disabilitata.",
    expired: "Questa richiesta di accesso è scaduta. Torna all'applicazione e ricomincia.",
    forbidden: "Il modulo non può essere verificato. Torna all'applicazione e ricomincia.",
    cross_site: "Questo modulo è stato inviato da un altro sito ed è stato rifiutato. Torna all'applicazione e ricomincia.",
    other_browser: "Questo accesso è stato avviato in un altro browser, oppure questo browser non conserva i cookie. Torna all'applicazione e ricomincia.",
    admin_refused: "Gli account amministratore non possono autorizzare applicazioni.",
    not_authorized: "Il tuo account non è abilitato a usare questa applicazione.",
    back_to_app: "Torna all'applicazione",
    server_error: "Si è verificato un errore. Riprova più tardi.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_q_values() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("it-IT,it;q=0.9,en;q=0.8")), Lang::It);
        assert_eq!(Lang::negotiate(Some("de,en;q=0.5,it;q=0.7")), Lang::It);
        assert_eq!(Lang::negotiate(Some("fr,de")), Lang::En);
        assert_eq!(Lang::negotiate(Some("it;q=0,en;q=0.1")), Lang::En);
    }
}
