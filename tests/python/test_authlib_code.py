"""The authorization code flow with an independent OAuth 2.0 client (authlib) against the gateway.

Run by ``tests/authlib_code.rs``, which starts a demo CRM and the ``crmgate`` binary, registers the
two apps below in apps.toml and passes them in the environment:

    GATEWAY_URL                               http://127.0.0.1:PORT (also the issuer)
    CODE_WEB_ID / _SECRET / _REDIRECT / _SCOPE  web_app: client secret, offline access
    CODE_NATIVE_ID / _REDIRECT / _SCOPE         native_app: public client, PKCE S256

authlib's ``OAuth2Session`` makes the authorize link and exchanges the code; the user's part (the
login form, the consent screen) is done the way a browser does it: GET the link, POST each form
with its hidden fields and the session cookie, and read the redirect's ``Location`` instead of
following it (nothing listens at the redirect URIs). The tokens must then act as the user who
signed in, and only as that user: the CRM answers with exactly that user's invoices.
"""

import os
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

GATEWAY_URL = os.environ["GATEWAY_URL"].rstrip("/")
AUTHORIZE_URL = f"{GATEWAY_URL}/oauth2/v2.0/auth.php"
TOKEN_URL = f"{GATEWAY_URL}/oauth2/v2.0/token.php"
QUERY_URL = f"{GATEWAY_URL}/restapi/v1/vtews/query"
TIMEOUT = 15

# What each demo CRM user may see of `SELECT * FROM Invoice;`: aldo owns 7x1 and 7x2; bruna owns
# 7x3 and sees 7x4 through her "support" group.
INVOICES = {"aldo": ["7x1", "7x2"], "bruna": ["7x3", "7x4"]}
PASSWORDS = {"aldo": "aldo-pw", "bruna": "bruna-pw"}


def env(name):
    value = os.environ.get(name)
    assert value, f"{name} is not set: run this through `cargo test --test gateway authlib_code`"
    return value


WEB_ID = env("CODE_WEB_ID")
WEB_SECRET = env("CODE_WEB_SECRET")
WEB_REDIRECT = env("CODE_WEB_REDIRECT")
WEB_SCOPE = env("CODE_WEB_SCOPE")
NATIVE_ID = env("CODE_NATIVE_ID")
NATIVE_REDIRECT = env("CODE_NATIVE_REDIRECT")
NATIVE_SCOPE = env("CODE_NATIVE_SCOPE")


class Forms(HTMLParser):
    """The forms of a page: action, method, inputs and submit buttons, as a browser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action", ""),
                    "method": a.get("method", "get").lower(),
                    "inputs": [],
                    "buttons": [],
                }
            )
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(a)
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(a)


class Page:
    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.url = response.url
        self.text = response.text
        self.location = response.headers.get("Location", "")
        parser = Forms()
        parser.feed(self.text)
        parser.close()
        self.forms = parser.forms

    def form(self):
        assert len(self.forms) == 1, f"expected one form on the page ({self.status}): {self.text}"
        return self.forms[0]


class Browser:
    """A user agent: one cookie jar, no automatic redirects, forms submitted as HTML says."""

    def __init__(self):
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "en"

    def get(self, url):
        return Page(self.http.get(url, allow_redirects=False, timeout=TIMEOUT))

    def submit(self, page, fields=None, button=None):
        """Submits the page's form: its hidden inputs, the fields typed in, and the button
        pressed (a ``(name, value)`` that must be one of the form's buttons)."""
        form = page.form()
        assert form["method"] == "post", form
        data = [
            (i["name"], i.get("value", ""))
            for i in form["inputs"]
            if i.get("type") == "hidden" and i.get("name")
        ]
        typed = {i.get("name") for i in form["inputs"] if i.get("type") != "hidden"}
        for name, value in (fields or {}).items():
            assert name in typed, f"the form has no {name} field: {form}"
            data.append((name, value))
        if button is not None:
            offered = {(b.get("name"), b.get("value")) for b in form["buttons"]}
            assert button in offered, f"no button {button} among {offered}"
            data.append(button)
        action = urljoin(page.url, form["action"])
        r = self.http.post(action, data=data, allow_redirects=False, timeout=TIMEOUT)
        return Page(r)


def sign_in_and_allow(authorize_url, user, redirect_uri):
    """The user's part: returns the Location the gateway redirected the browser to."""
    browser = Browser()
    login = browser.get(authorize_url)
    assert login.status == 200, login.text
    names = {i.get("name") for i in login.form()["inputs"]}
    assert {"username", "password", "req", "csrf"} <= names, login.form()

    consent = browser.submit(login, {"username": user, "password": PASSWORDS[user]})
    assert consent.status == 200, consent.text
    assert "crmgate_session" in browser.http.cookies, consent.response.headers
    assert f"<strong>{user}</strong>" in consent.text, consent.text

    done = browser.submit(consent, button=("decision", "allow"))
    assert done.status == 303, done.text
    assert done.location.startswith(f"{redirect_uri}?"), done.location
    return done.location


def redirect_params(location):
    params = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in params.values()), location
    return {k: v[0] for k, v in params.items()}


def check_redirect(location, state):
    params = redirect_params(location)
    assert "error" not in params, location
    assert params.get("code"), f"no code in {location}"
    assert params.get("state") == state, location
    # RFC 9207: the issuer identifies the gateway that sent the code.
    assert params.get("iss") == GATEWAY_URL, location


def check_token(token, scope, refresh):
    assert token["token_type"] == "Bearer", token
    assert token["scope"] == scope, token
    assert isinstance(token["expires_in"], int) and token["expires_in"] > 0, token
    assert token["access_token"].startswith("crm_at_"), token
    assert ("refresh_token" in token) == refresh, token


def invoice_ids(session, access_token):
    """The invoice ids the CRM returns to a query with `access_token` (sent by authlib)."""
    r = session.post(QUERY_URL, json={"query": "SELECT * FROM Invoice;"}, timeout=TIMEOUT)
    assert r.request.headers["Authorization"] == f"Bearer {access_token}"
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 200, body
    return sorted(row["id"] for row in body["data"])


def query_status(access_token):
    r = requests.post(
        QUERY_URL,
        json={"query": "SELECT * FROM Invoice;"},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
    return r.status_code


def web_session(method):
    return OAuth2Session(
        WEB_ID,
        WEB_SECRET,
        scope=WEB_SCOPE,
        redirect_uri=WEB_REDIRECT,
        token_endpoint_auth_method=method,
        default_timeout=TIMEOUT,
    )


@pytest.mark.parametrize(
    "user, method", [("bruna", "client_secret_basic"), ("aldo", "client_secret_post")]
)
def test_web_app(user, method):
    session = web_session(method)
    sent = []
    session.register_compliance_hook("access_token_response", lambda r: sent.append(r) or r)
    url, state = session.create_authorization_url(AUTHORIZE_URL)
    location = sign_in_and_allow(url, user, WEB_REDIRECT)
    check_redirect(location, state)

    token = session.fetch_token(TOKEN_URL, authorization_response=location, state=state)
    check_token(token, WEB_SCOPE, refresh=True)
    (response,) = sent
    form = parse_qs(response.request.body)
    assert form["grant_type"] == ["authorization_code"], form
    assert form["redirect_uri"] == [WEB_REDIRECT], form
    if method == "client_secret_basic":
        assert response.request.headers["Authorization"].startswith("Basic "), form
    else:
        assert form["client_secret"] == [WEB_SECRET], form
    assert invoice_ids(session, token["access_token"]) == INVOICES[user]

    # Refresh: a new access token and a new refresh token, still acting as the same user.
    old_access, old_refresh = token["access_token"], token["refresh_token"]
    new = session.refresh_token(TOKEN_URL)
    check_token(new, WEB_SCOPE, refresh=True)
    assert new["access_token"] != old_access, new
    assert new["refresh_token"] != old_refresh, new
    assert invoice_ids(session, new["access_token"]) == INVOICES[user]

    # The rotated refresh token is refused from now on ...
    with pytest.raises(OAuthError) as raised:
        session.refresh_token(TOKEN_URL, refresh_token=old_refresh)
    assert raised.value.error == "invalid_grant"
    # ... and presenting it again revoked the grant it came from (refresh token reuse detection,
    # no grace period configured): the tokens of the rotation stop working too.
    assert query_status(new["access_token"]) == 401
    with pytest.raises(OAuthError) as raised:
        session.refresh_token(TOKEN_URL, refresh_token=new["refresh_token"])
    assert raised.value.error == "invalid_grant"

    # The code was single use.
    with pytest.raises(OAuthError) as raised:
        web_session(method).fetch_token(TOKEN_URL, authorization_response=location, state=state)
    assert raised.value.error == "invalid_grant"


def native_session():
    return OAuth2Session(
        NATIVE_ID,
        scope=NATIVE_SCOPE,
        redirect_uri=NATIVE_REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        default_timeout=TIMEOUT,
    )


@pytest.mark.parametrize("user", ["aldo", "bruna"])
def test_native_app_with_pkce(user):
    session = native_session()
    sent = []
    session.register_compliance_hook("access_token_response", lambda r: sent.append(r) or r)
    verifier = generate_token(64)
    url, state = session.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"], url
    location = sign_in_and_allow(url, user, NATIVE_REDIRECT)
    check_redirect(location, state)

    token = session.fetch_token(
        TOKEN_URL, authorization_response=location, state=state, code_verifier=verifier
    )
    check_token(token, NATIVE_SCOPE, refresh=False)
    # A public client: no secret anywhere, the client_id and the verifier in the body.
    (response,) = sent
    form = parse_qs(response.request.body)
    assert "Authorization" not in response.request.headers, response.request.headers
    assert "client_secret" not in form, form
    assert form["client_id"] == [NATIVE_ID], form
    assert form["code_verifier"] == [verifier], form
    assert invoice_ids(session, token["access_token"]) == INVOICES[user]

    # The code is single use, and presenting it again revokes what it gave (RFC 6749 §4.1.2).
    with pytest.raises(OAuthError) as raised:
        native_session().fetch_token(
            TOKEN_URL, authorization_response=location, state=state, code_verifier=verifier
        )
    assert raised.value.error == "invalid_grant"
    assert query_status(token["access_token"]) == 401


def test_native_app_code_needs_the_right_verifier():
    session = native_session()
    verifier = generate_token(64)
    url, state = session.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
    location = sign_in_and_allow(url, "aldo", NATIVE_REDIRECT)
    check_redirect(location, state)
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(
            TOKEN_URL,
            authorization_response=location,
            state=state,
            code_verifier=generate_token(64),
        )
    assert raised.value.error == "invalid_grant"
    assert session.token is None
