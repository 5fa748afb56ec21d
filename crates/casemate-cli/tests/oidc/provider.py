"""An OpenID provider for the tests, built on authlib's authorization server (from PyPI).

Usage: provider.py PORT CLIENT_ID REDIRECT_URI [--no-device] [--groups-in-userinfo]

Serves discovery, JWKS (an RS256 key made at start), the authorization endpoint (which signs
in one fixed user without a login page: the tests are about what the relying party does) and
the token endpoint, with PKCE (S256) and a nonce required; and, unless --no-device, RFC 8628's
device flow: the device authorization endpoint, the device-code grant (its token response
carrying an ID token, as OpenID providers' do) and the verification page, where opening
`/device?user_code=...` signs the fixed user in at once and POST /_test/deny-device with
{"user_code": ...} refuses the sign-in instead. POST /_test/next-claims with a JSON
object makes the next ID token carry those claims instead (another iss, a wrong aud, an expired
exp, an old nonce): how the tests get tokens a misbehaving or hostile issuer would send.
The userinfo endpoint answers for the access tokens it issued; with --groups-in-userinfo the
groups claim is there only, not in ID tokens (as providers that keep ID tokens small do), and
POST /_test/next-userinfo-claims makes its next answer carry those claims instead.
"""

import secrets
import sys
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant
from authlib.oauth2.rfc8628 import DeviceCredentialDict
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import generate_id_token
from flask import Flask, jsonify, request

PORT, CLIENT_ID, REDIRECT_URI = int(sys.argv[1]), sys.argv[2], sys.argv[3]
DEVICE_FLOW = "--no-device" not in sys.argv[4:]
GROUPS_IN_USERINFO = "--groups-in-userinfo" in sys.argv[4:]
ISSUER = f"http://127.0.0.1:{PORT}"
KEY = JsonWebKey.generate_key("RSA", 2048, {"kid": secrets.token_hex(8), "use": "sig"}, is_private=True)
USER = {"sub": "idp-user-7f3a", "preferred_username": "ada", "name": "Ada Lovelace",
        "email": "ada@example.test", "groups": ["ml-team", "auditors"]}
codes = {}
next_claims = {}
next_userinfo_claims = {}
access_tokens = {}   # access token -> the user it was issued for
devices = {}         # device_code -> its credential
device_grants = {}   # user_code -> (user, approved), once the user has answered


class Client:
    client_id = CLIENT_ID
    token_endpoint_auth_method = "none"

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return REDIRECT_URI

    def get_allowed_scope(self, scope):
        allowed = {"openid", "profile", "email", "groups"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == REDIRECT_URI

    def check_client_secret(self, client_secret):
        return False

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", DEVICE_CODE_GRANT_TYPE)


CLIENT = Client()


class Code:
    def __init__(self, code, req):
        self.code = code
        self.redirect_uri = req.payload.redirect_uri
        self.scope = req.payload.scope
        self.nonce = req.payload.data.get("nonce")
        self.code_challenge = req.payload.data.get("code_challenge")
        self.code_challenge_method = req.payload.data.get("code_challenge_method")
        self.auth_time = int(time.time())
        self.issued = time.time()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None

    def is_expired(self):
        return time.time() - self.issued > 120


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def save_authorization_code(self, code, req):
        codes[code] = Code(code, req)

    def query_authorization_code(self, code, client):
        return codes.get(code)

    def delete_authorization_code(self, authorization_code):
        codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return USER


class IdToken(OpenIDCode):
    def exists_nonce(self, nonce, req):
        return any(c.nonce == nonce for c in codes.values())

    def get_jwt_config(self, grant):
        return {"key": KEY.as_dict(is_private=True), "alg": "RS256", "iss": ISSUER, "exp": 300}

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": KEY.kid}

    def generate_user_info(self, user, scope):
        return user_info(user)


def user_info(user):
    if GROUPS_IN_USERINFO:
        user = {name: value for name, value in user.items() if name != "groups"}
    info = UserInfo(user)
    # Applied last by authlib, so a test's claims replace the issued ones.
    info.update(next_claims)
    next_claims.clear()
    return info


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    INTERVAL = 1  # the tests poll often, and RFC 8628 leaves the interval to the provider
    EXPIRES_IN = 600

    def get_verification_uri(self):
        return f"{ISSUER}/device"

    def save_device_credential(self, client_id, scope, data):
        devices[data["device_code"]] = DeviceCredentialDict(
            client_id=client_id, scope=scope, expires_at=time.time() + self.EXPIRES_IN, **data)


class DeviceGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def query_device_credential(self, device_code):
        return devices.get(device_code)

    def query_user_grant(self, user_code):
        return device_grants.get(user_code)

    def should_slow_down(self, credential):
        return False

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        # A device code is spent once it has given its tokens.
        devices.pop(self.request.payload.data.get("device_code"), None)
        token["id_token"] = generate_id_token(
            token, user_info(self.request.user), KEY.as_dict(is_private=True), iss=ISSUER,
            aud=[CLIENT_ID], exp=300, kid=KEY.kid)
        return status, token, headers


app = Flask(__name__)


def save_token(token, req):
    access_tokens[token["access_token"]] = req.user


server = AuthorizationServer(app, query_client=lambda cid: CLIENT if cid == CLIENT_ID else None,
                             save_token=save_token)
server.register_grant(CodeGrant, [IdToken(require_nonce=True), CodeChallenge(required=True)])
if DEVICE_FLOW:
    server.register_grant(DeviceGrant)
    server.register_endpoint(DeviceEndpoint)


@app.get("/.well-known/openid-configuration")
def discovery():
    device = {"device_authorization_endpoint": f"{ISSUER}/device_authorization"} if DEVICE_FLOW else {}
    return jsonify({
        **device,
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "profile", "email", "groups"],
    })


@app.get("/jwks")
def jwks():
    return jsonify({"keys": [KEY.as_dict(is_private=False)]})


@app.get("/authorize")
def authorize():
    return server.create_authorization_response(grant_user=USER)


@app.post("/token")
def token():
    return server.create_token_response()


@app.post("/device_authorization")
def device_authorization():
    return server.create_endpoint_response("device_authorization")


@app.get("/device")
def verify_device():
    user_code = request.args.get("user_code", "")
    if not any(d["user_code"] == user_code for d in devices.values()):
        return "no such code", 404
    device_grants[user_code] = (USER, True)
    return "Signed in; return to your device."


@app.post("/_test/deny-device")
def deny_device():
    device_grants[request.get_json()["user_code"]] = (USER, False)
    return "", 204


@app.get("/userinfo")
def userinfo():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user = access_tokens.get(token) if scheme == "Bearer" else None
    if user is None:
        return jsonify({"error": "invalid_token"}), 401
    claims = {**user, **next_userinfo_claims}
    next_userinfo_claims.clear()
    return jsonify(claims)


@app.post("/_test/next-userinfo-claims")
def set_next_userinfo_claims():
    next_userinfo_claims.update(request.get_json())
    return "", 204


@app.post("/_test/next-claims")
def set_next_claims():
    next_claims.update(request.get_json())
    return "", 204


if __name__ == "__main__":
    # authlib refuses plain HTTP unless told this is a development setup; loopback only.
    import os
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app.run(host="127.0.0.1", port=PORT)
