"""An independent OAuth 2.0 client (authlib) against the real gateway.

Run by ``tests/authlib.rs``, which starts a demo CRM and the ``crmgate`` binary, registers the
clients below in apps.toml and passes their credentials in the environment:

    GATEWAY_URL                        http://127.0.0.1:PORT
    AUTHLIB_SECRET_ALDO_ID / _SECRET   client_secret app bound to aldo
    AUTHLIB_SECRET_BRUNA_ID / _SECRET  client_secret app bound to bruna
    AUTHLIB_ES256_ALDO_ID / _KEY       signed_jwt app (P-256) bound to aldo; _KEY is a PKCS#8 PEM file
    AUTHLIB_RS256_BRUNA_ID / _KEY      signed_jwt app (RSA 2048) bound to bruna; _KEY as above
    AUTHLIB_SCOPE                      the scope every app is registered with

Every client gets a token with client_credentials, then calls the proxied REST API with it and
must see exactly the invoices of the CRM user its app is bound to.
"""

import base64
import json
import os
import time
from urllib.parse import parse_qs

import pytest
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from joserfc.jwk import ECKey, RSAKey

GATEWAY_URL = os.environ["GATEWAY_URL"].rstrip("/")
TOKEN_URL = f"{GATEWAY_URL}/oauth2/v2.0/token.php"
QUERY_URL = f"{GATEWAY_URL}/restapi/v1/vtews/query"
SCOPE = os.environ["AUTHLIB_SCOPE"]
TIMEOUT = 15

# What each demo CRM user may see of `SELECT * FROM Invoice;`: aldo owns 7x1 and 7x2; bruna owns
# 7x3 and sees 7x4 through her "support" group. 7x5 (admin) is nobody's here.
INVOICES = {"aldo": {"7x1", "7x2"}, "bruna": {"7x3", "7x4"}}

# The gateway accepts only these JWS header parameters in a client assertion.
ALLOWED_HEADER = {"alg", "typ", "kid"}
# ... and an `exp` at most this far ahead (crmgate's default assertion_max_lifetime).
MAX_ASSERTION_LIFETIME = 600


def env(name):
    value = os.environ.get(name)
    assert value, f"{name} is not set: run this through `cargo test --test gateway authlib::`"
    return value


SECRET_CLIENTS = {
    "aldo": (env("AUTHLIB_SECRET_ALDO_ID"), env("AUTHLIB_SECRET_ALDO_SECRET")),
    "bruna": (env("AUTHLIB_SECRET_BRUNA_ID"), env("AUTHLIB_SECRET_BRUNA_SECRET")),
}


class RecordingPrivateKeyJWT(PrivateKeyJWT):
    """authlib's PrivateKeyJWT, with a short assertion lifetime, recording what it sends.

    authlib signs assertions valid for an hour (``expires_in=3600``) and offers no constructor
    option for it; the gateway refuses an ``exp`` more than 10 minutes ahead. Passing
    ``claims={"exp": ...}`` instead would be wrong twice: the ``exp`` would be fixed at
    construction time, and authlib stores the generated ``jti`` into that same dict, so every
    later assertion would repeat it. Hence the lifetime is passed per signature here, and
    ``claims`` stays None so authlib draws a fresh ``jti`` each time.
    """

    def __init__(self, token_endpoint, alg, lifetime=300):
        # headers=None: authlib/joserfc then send exactly {"typ": "JWT", "alg": alg}.
        super().__init__(token_endpoint, claims=None, headers=None, alg=alg)
        self.lifetime = lifetime
        self.sent = []

    def sign(self, auth, token_endpoint):
        assertion = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            claims=self.claims,
            header=self.headers,
            alg=self.alg,
            expires_in=self.lifetime,
        )
        self.sent.append(assertion)
        return assertion


def b64json(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def secret_session(user, method, secret=None):
    client_id, right = SECRET_CLIENTS[user]
    return OAuth2Session(
        client_id,
        right if secret is None else secret,
        token_endpoint_auth_method=method,
        default_timeout=TIMEOUT,
    )


def jwt_session(client_id, key, alg):
    auth = RecordingPrivateKeyJWT(TOKEN_URL, alg=alg)
    session = OAuth2Session(
        client_id,
        key,
        token_endpoint_auth_method=auth.name,
        default_timeout=TIMEOUT,
    )
    session.register_client_auth_method(auth)
    return session, auth


def fetch(session):
    token = session.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert token["token_type"] == "Bearer", token
    assert token["scope"] == SCOPE, token
    assert isinstance(token["expires_in"], int) and token["expires_in"] > 0, token
    assert token["access_token"], token
    return token


def assert_sees_only(session, token, user):
    """Calls the REST API through `session` (which attaches the bearer token)."""
    r = session.post(QUERY_URL, json={"query": "SELECT * FROM Invoice;"}, timeout=TIMEOUT)
    assert r.request.headers["Authorization"] == f"Bearer {token['access_token']}"
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == 200, body
    ids = [row["id"] for row in body["data"]]
    assert len(ids) == len(set(ids)), body
    assert set(ids) == INVOICES[user], f"{user} got {ids}: {body}"
    if user == "aldo":
        assert {row["assigned_user_id"] for row in body["data"]} == {"aldo"}, body


@pytest.mark.parametrize("user", ["aldo", "bruna"])
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_secret(method, user):
    session = secret_session(user, method)
    sent = []
    session.register_compliance_hook("access_token_response", lambda r: sent.append(r) or r)
    token = fetch(session)
    assert_sees_only(session, token, user)

    # authlib really used the method asked for, and only that one.
    (response,) = sent
    form = parse_qs(response.request.body)
    authorization = response.request.headers.get("Authorization", "")
    if method == "client_secret_basic":
        assert authorization.startswith("Basic "), response.request.headers
        assert "client_secret" not in form, form
    else:
        assert not authorization, response.request.headers
        assert form["client_id"] == [SECRET_CLIENTS[user][0]], form
        assert "client_secret" in form, form


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_wrong_secret_is_invalid_client(method):
    session = secret_session("aldo", method, secret="not-the-secret")
    with pytest.raises(OAuthError) as raised:
        session.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert raised.value.error == "invalid_client"
    assert session.token is None


@pytest.mark.parametrize(
    "alg, user, key_type",
    [("ES256", "aldo", ECKey), ("RS256", "bruna", RSAKey)],
)
def test_private_key_jwt(alg, user, key_type):
    prefix = f"AUTHLIB_{alg}_{user.upper()}"
    client_id = env(f"{prefix}_ID")
    with open(env(f"{prefix}_KEY"), "rb") as f:
        key = key_type.import_key(f.read())
    session, auth = jwt_session(client_id, key, alg)

    first = fetch(session)
    assert_sees_only(session, first, user)
    # A second token: authlib must sign a new assertion with a new jti (the gateway refuses a
    # jti it has seen before).
    second = fetch(session)
    assert second["access_token"] != first["access_token"]
    assert_sees_only(session, second, user)

    assert len(auth.sent) == 2
    jtis = set()
    for assertion in auth.sent:
        header, claims = (b64json(s) for s in assertion.split(".")[:2])
        assert set(header) <= ALLOWED_HEADER, header
        assert header["alg"] == alg, header
        assert claims["iss"] == claims["sub"] == client_id, claims
        assert claims["aud"] == TOKEN_URL, claims
        assert claims["exp"] <= time.time() + MAX_ASSERTION_LIFETIME, claims
        jtis.add(claims["jti"])
    assert len(jtis) == 2, "authlib reused a jti"

    # Replaying an assertion the gateway has already accepted is refused.
    replay = session.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": auth.sent[0],
        },
        withhold_token=True,
        timeout=TIMEOUT,
    )
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"] == "invalid_client", replay.text
