"""HTTPS to a casemate server: verified against a CA file, or a pinned certificate fingerprint."""

import hashlib
import http.client
import json
import ssl
import urllib.parse


class CasemateError(Exception):
    """An error answer from the server, with its HTTP status, code and message."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _normalized(fingerprint):
    return fingerprint.replace(":", "").lower()


class Connection:
    """Requests to one server with one credential. The token is never part of ``repr``."""

    def __init__(self, endpoint, token, ca_cert=None, fingerprint=None, timeout=60):
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("https", "http"):
            raise ValueError("endpoint must be an https:// (or loopback http://) URL")
        if url.scheme == "https" and not ca_cert and not fingerprint:
            raise ValueError("an https endpoint needs CASEMATE_CA_CERT or a pinned fingerprint")
        self.endpoint = endpoint.rstrip("/")
        self._url = url
        self._token = token
        self._ca_cert = ca_cert
        self._fingerprint = _normalized(fingerprint) if fingerprint else None
        self._timeout = timeout

    def __repr__(self):
        return f"Connection({self.endpoint!r})"

    def _connect(self):
        host, port = self._url.hostname, self._url.port
        if self._url.scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=self._timeout)
        if self._ca_cert:
            context = ssl.create_default_context(cafile=self._ca_cert)
        else:
            # Pinned: the chain is not judged, the exact certificate is (checked after connecting).
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(host, port, timeout=self._timeout, context=context)
        connection.connect()
        if not self._ca_cert:
            presented = hashlib.sha256(connection.sock.getpeercert(binary_form=True)).hexdigest()
            if presented != self._fingerprint:
                connection.close()
                raise CasemateError(0, "CertificateMismatch",
                                    "the server's certificate does not match the pinned fingerprint")
        return connection

    def request(self, method, path, body=None, raw=None, content_type=None, query=None, auth=True,
                bearer=None):
        """Sends a request; returns the decoded JSON answer (None for 204). ``bearer``, when
        given, is sent instead of this connection's token (a web service's key or token)."""
        target = self._url.path.rstrip("/") + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        headers = {"User-Agent": "casemate-python/0.1", "Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = "Bearer " + bearer
        elif auth and self._token:
            headers["Authorization"] = "Bearer " + self._token
        payload = raw
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif content_type:
            headers["Content-Type"] = content_type
        connection = self._connect()
        try:
            connection.request(method, target, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if response.status >= 400:
            try:
                error = json.loads(data)["error"]
                raise CasemateError(response.status, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise CasemateError(response.status, "HttpError", data[:300].decode("utf-8", "replace"))
        if response.status == 204 or not data:
            return None
        return json.loads(data)


def quote(segment):
    return urllib.parse.quote(segment, safe="")
