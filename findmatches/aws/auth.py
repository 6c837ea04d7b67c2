"""SigV4 request authentication against a table of access keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from findmatches.aws.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    RequestExpired,
    UnrecognizedClientException,
)

DEFAULT_ACCESS_KEY = "test"
DEFAULT_SECRET_KEY = "test"
DEFAULT_ACCOUNT = "000000000000"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH_FIELD = re.compile(r"(\w+)=([^,\s]*)")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the access key's account and the region of its credential scope."""

    access_key: str
    account_id: str
    region: str


@dataclass(frozen=True)
class AccessKey:
    secret_key: str
    account_id: str


class KeyStore:
    """Access keys by id, from a TOML credentials file or the single default test key."""

    def __init__(self, keys: Mapping[str, AccessKey]) -> None:
        self.keys = dict(keys)

    @classmethod
    def default(cls) -> KeyStore:
        return cls({DEFAULT_ACCESS_KEY: AccessKey(DEFAULT_SECRET_KEY, DEFAULT_ACCOUNT)})

    @classmethod
    def from_file(cls, path: Path) -> KeyStore:
        """Read ``[ACCESS_KEY_ID]`` tables with ``secret_access_key`` and ``account_id``."""
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"cannot read credentials file {path}: {e}") from e
        keys = {}
        for key_id, entry in data.items():
            if not isinstance(entry, dict):
                raise ValueError(f"{path}: [{key_id}] must be a table")
            secret, account = entry.get("secret_access_key"), str(entry.get("account_id", ""))
            if not isinstance(secret, str) or not secret:
                raise ValueError(f"{path}: [{key_id}] needs a secret_access_key")
            if not _ACCOUNT.match(account):
                raise ValueError(f"{path}: [{key_id}] needs a 12-digit account_id")
            keys[key_id] = AccessKey(secret, account)
        if not keys:
            raise ValueError(f"{path}: no access keys defined")
        return cls(keys)

    @property
    def is_default(self) -> bool:
        return (
            set(self.keys) == {DEFAULT_ACCESS_KEY}
            and self.keys[DEFAULT_ACCESS_KEY].secret_key == DEFAULT_SECRET_KEY
        )


class _Verifier(SigV4Auth):
    """botocore's signer, made to sign exactly the headers the client says it signed."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]) -> None:
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                headers.add_header(name, value)
        return headers


def authenticate(
    keys: KeyStore,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: dt.datetime | None = None,
) -> Principal:
    """Check the request's SigV4 signature (header form) for service ``glue``; return the caller."""
    lowered = HTTPHeaders()
    for name, value in headers:
        lowered.add_header(name.lower(), value)
    header = lowered.get("authorization")
    if not header:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    algorithm, _, rest = header.strip().partition(" ")
    fields = dict(_AUTH_FIELD.findall(rest))
    if algorithm != _ALGORITHM or not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise IncompleteSignatureException(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' with "
            f"algorithm {_ALGORITHM}."
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureException(
            "Credential is not of the form AKID/date/region/service/aws4_request."
        )
    key_id, date, region, service = scope[:4]
    key = keys.keys.get(key_id)
    if key is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    if service != "glue":
        raise InvalidSignatureException("Credential should be scoped to correct service: 'glue'.")
    amz_date = lowered.get("x-amz-date")
    if not amz_date:
        raise IncompleteSignatureException("Signature requires an X-Amz-Date header.")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError as e:
        raise IncompleteSignatureException(
            f"X-Amz-Date '{amz_date}' is not of the form YYYYMMDD'T'HHMMSS'Z'."
        ) from e
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise RequestExpired(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - MAX_CLOCK_SKEW).strftime('%Y%m%dT%H%M%SZ')} or later than "
            f"{(now + MAX_CLOCK_SKEW).strftime('%Y%m%dT%H%M%SZ')}."
        )
    if date != amz_date[:8]:
        raise InvalidSignatureException("Date in Credential scope does not match YYYYMMDD from X-Amz-Date.")
    signed = [h for h in fields["SignedHeaders"].lower().split(";") if h]
    if "host" not in signed:
        raise InvalidSignatureException("'Host' must be a signed header.")
    claimed_hash = lowered.get("x-amz-content-sha256")
    if claimed_hash and claimed_hash != hashlib.sha256(body).hexdigest():
        raise InvalidSignatureException("The provided x-amz-content-sha256 header does not match the body.")
    request = AWSRequest(method=method, url=url, data=body, headers=lowered)  # type: ignore[arg-type]
    request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials(key_id, key.secret_key), service, region, signed)
    try:
        canonical = verifier.canonical_request(request)
    except ValueError as e:  # e.g. a Host header that is no host: the signature cannot be checked
        raise InvalidSignatureException(f"Cannot compute the signature of this request: {e}") from e
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return Principal(key_id, key.account_id, region)
