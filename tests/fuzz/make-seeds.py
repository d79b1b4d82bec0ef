#!/usr/bin/env python3
"""Writes the seed corpora (tests/fuzz/corpus/<target>/seed-*) from real inputs: request bodies,
headers, paths and configuration files as the gateway and its tests use them.

Structure-aware targets read their input with `arbitrary`; each seed goes through the target's
raw variant, which is the first one (a 4-byte zero discriminant selects it)."""

import base64
import json
import os
import pathlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RAW = b"\0\0\0\0"  # enum discriminant of the first (raw) variant


def vec(b):
    """A trailing Vec<u8> as `arbitrary` reads it: each byte preceded by a "one more" flag."""
    return b"".join(b"\x01" + bytes([x]) for x in b)


def write(target, seeds):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for i, s in enumerate(seeds):
        (d / f"seed-{i:02}").write_bytes(s if isinstance(s, bytes) else s.encode())


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(seed, header, claims):
    key = ec.derive_private_key(int.from_bytes(bytes([seed]) * 32, "big"), ec.SECP256R1())
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    c = b64(json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(key.sign(f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{h}.{c}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


NOW = 1_900_000_000
AUD = "https://gw.example/token"


def claims(client, exp=NOW + 60, jti="seed"):
    return {"iss": client, "sub": client, "aud": AUD, "exp": exp, "iat": NOW, "jti": jti}


ASSERTIONS = [
    jwt(0x11, {"alg": "ES256", "typ": "JWT"}, claims("svc")),
    jwt(0x33, {"alg": "ES256", "kid": "k1"}, claims("svc-kid")),
    jwt(0x11, {"alg": "ES256"}, claims("svc", exp=NOW - 100)),
    jwt(0x22, {"alg": "ES256"}, claims("svc")),
    b64(b'{"alg":"none"}') + "." + b64(json.dumps(claims("svc")).encode()) + ".",
]
ASSERTION_TYPE = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
TOKEN_BODIES = [
    "grant_type=client_credentials&scope=rest.all",
    "grant_type=client_credentials&client_id=vte_5a0391ecbe3d04058d56&client_secret=replace-me",
    "grant_type=authorization_code&code=crm_ac_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
    "&redirect_uri=https%3A%2F%2Fportal.example.com%2Foauth%2Fcallback"
    "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk&client_id=vte_fedcba9876543210fedc",
    "grant_type=refresh_token&refresh_token=crm_rt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
    "token=crm_at_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG&token_type_hint=access_token",
    f"grant_type=client_credentials&client_assertion_type={ASSERTION_TYPE}"
    f"&client_assertion={ASSERTIONS[0]}",
    "a=b+c%2B&scope=",
    "grant_type=a&grant_type=b",
    "a=%ff",
    "response_type=code&client_id=x&state=a+b%26c%3Dd",
]

write("form_body", TOKEN_BODIES)

write("basic_credentials", [RAW + vec(h[4:]) for h in [
    RAW + b"Basic " + base64.b64encode(b"my%3Aid:p%25s%2B%26%3A"),
    RAW + b"basic " + base64.b64encode(b"id:a+b"),
    RAW + b"Basic " + base64.b64encode(b"id:a%ffb"),
    RAW + b"Basic " + base64.b64encode(b"vte_5a0391ecbe3d04058d56:replace-me-with-a-long-random-secret"),
    RAW + b"Basic " + base64.b64encode(b"nocolon"),
    RAW + b"Basic !!!",
    RAW + b"Bearer crm_at_x",
]])

write("client_assertion", [RAW + a.encode() for a in ASSERTIONS])

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
write("redirect_matcher", [RAW + vec(q.encode()) for q in [
    "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=xyz",
    "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Ftenant%3D1",
    "response_type=code&client_id=native&state=s&code_challenge_method=S256"
    f"&code_challenge={CHALLENGE}",
    "response_type=code&client_id=multi&redirect_uri=com.example.crm%3A%2Foauth%2Fcallback"
    f"&code_challenge_method=S256&code_challenge={CHALLENGE}",
    "response_type=code&client_id=multi&redirect_uri=http%3A%2F%2F%5B%3A%3A1%5D%2Fcb",
    "response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F",
    "response_type=code&client_id=web&redirect_uri=https%3A%2F%2FAPP.example.com%2Fcb",
]])

PATHS = [
    "/restapi/v1/vtews/query", "/restapi/v1/vtews/query/", "/restapi/v1/vtews/query.json",
    "/restapi/v1/index.php/vtews/query", "/restapi/v1/vtews/QUERY", "/restapi/v1/other/query",
    "/restapi", "/restapi/v1/vtews/%71uery", "/%72estapi/v1/vtews/create",
    "//restapi/v1/vtews/create", "/x/../restapi/v1/vtews/create",
    "/restapi/v1/vtews/query/../create", "/restapi/v1/vtews/query;x=1",
    "/restapi%2Fv1/vtews/create", "/%252Frestapi/v1/vtews/create", "/./restapi/v1/vtews/create",
    "/restapi\\v1", "/", "/index.php", "/restapix/v1", "/modules/x", "/oauth2/token",
    "/gateway/api/apps", "/.well-known/oauth-authorization-server",
]
write("path_classifier", [b"\0" + p.encode() for p in PATHS])

BLOCK = (
    "X-Crm-User: admin\r\nx-crm-user: admin\r\nX-CRM-Scope: rest.all\r\nX_Crm_User: admin\r\n"
    "x_crm_client_id: x\r\nClient-IP: 1.2.3.4\r\nclient_ip: 1.2.3.4\r\n"
    "X-Forwarded-For: 1.2.3.4\r\nX_Forwarded_For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\n"
    "Authorization: Bearer t\r\nX-HTTP-Method-Override: DELETE\r\n"
    "Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nAccept: application/json\r\n"
)
PLAIN = "Host: crm.example\r\nAuthorization: Bearer crm_at_x\r\nContent-Type: application/json\r\n"
TRUSTED = "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nX_Forwarded_For: 6.6.6.6\r\nX-Real-IP: 10.0.0.1\r\n"
write("header_sanitizer", [
    b"\x01\x00\x01\x01" + RAW + vec(BLOCK.encode()),
    b"\x00\x00\x00\x00" + RAW + vec(BLOCK.encode()),
    b"\x01\x00\x00\x00" + RAW + vec(PLAIN.encode()),
    b"\x00\x01\x01\x01" + RAW + vec(TRUSTED.encode()),
    b"\x01\x01\x01\x00" + RAW + vec((TRUSTED + "Connection: X-Forwarded-For\r\n").encode()),
])

snippets = [
    "[upstream]\naddress = \"crm:443\"\ntls = true\n",
    "[server]\npublic_url = \"https://x/gw\"\n",
    "a = 1\nb = \n",
    "[[users]]\nusername = \"a b\"\n\n[[users]]\nusername = \"c\"\npassword_hash = \"nope\"\n",
    "[[apps]]\nname = \"a\"\nnmae = \"x\"\n",
]
configs = [(ROOT / "config" / f).read_text() for f in ("crmgate.toml", "apps.toml", "users.toml")]
write("toml_loaders", configs + snippets)
