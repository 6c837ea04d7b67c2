"""SigV4 request authentication against a table of access keys."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.utils import normalize_url_path

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
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z", re.ASCII)
# A region as the console accepts one (us-east-1, test-abc): the scope's region names the caller's namespace.
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$", re.ASCII)
# Headers that decide how a request is checked: sent twice, it would be unclear which one was meant.
_SINGLE_HEADERS = ("authorization", "x-amz-date", "x-amz-content-sha256")


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


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key: the same for every request of a key, day, region and service."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _canonical_request(
    method: str, url: str, headers: dict[str, list[str]], signed: list[str], payload_hash: str
) -> str:
    """The canonical request exactly as botocore's SigV4Auth builds it (non-S3 services)."""
    parts = urlsplit(url)
    path = quote(normalize_url_path(parts.path), safe="/~")
    query = ""
    if parts.query:
        pairs = sorted(pair.partition("=")[::2] for pair in parts.query.split("&"))
        query = "&".join(f"{k}={v}" for k, v in pairs)
    names = sorted(set(signed))
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, []))}\n" for name in names
    )
    return "\n".join([method.upper(), path, query, canonical_headers, ";".join(names), payload_hash])


def authenticate(
    keys: KeyStore,
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: dt.datetime | None = None,
) -> Principal:
    """Check the request's SigV4 signature (header form) for service ``glue``; return the caller."""
    lowered: dict[str, list[str]] = {}
    for name, value in headers:
        lowered.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str | None:
        values = lowered.get(name)
        return values[0] if values else None

    header = first("authorization")
    # Security: only the first of repeated headers used to be read, the rest ignored; refuse the ambiguity.
    for name in _SINGLE_HEADERS:
        if len(lowered.get(name, ())) > 1:
            raise IncompleteSignatureException(f"The request has more than one {name} header.")
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
    if not _REGION.fullmatch(region):
        # Security: any string used to become the caller's region (an empty one, spaces, markup, in ARNs).
        raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region}'.")
    amz_date = first("x-amz-date")
    if not amz_date:
        raise IncompleteSignatureException("Signature requires an X-Amz-Date header.")
    try:
        stamp = _AMZ_DATE.fullmatch(amz_date)
        if stamp is None:
            raise ValueError("not YYYYMMDD'T'HHMMSS'Z'")
        year, month, day, hour, minute, second = map(int, stamp.groups())  # strptime is 10x slower
        signed_at = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
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
    if "x-amz-target" in lowered and "x-amz-target" not in signed:
        # Security: an unsigned target let a captured request be replayed as another operation on its body.
        raise InvalidSignatureException("'X-Amz-Target' must be a signed header.")
    claimed_hash = first("x-amz-content-sha256")
    if claimed_hash and claimed_hash != hashlib.sha256(body).hexdigest():
        raise InvalidSignatureException("The provided x-amz-content-sha256 header does not match the body.")
    try:
        canonical = _canonical_request(
            method, url, lowered, signed, claimed_hash or hashlib.sha256(body).hexdigest()
        )
    except ValueError as e:  # e.g. a Host header that is no host: the signature cannot be checked
        raise InvalidSignatureException(f"Cannot compute the signature of this request: {e}") from e
    string_to_sign = "\n".join(
        [_ALGORITHM, amz_date, "/".join(scope[1:]), hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    signing_key = _signing_key(key.secret_key, date, region, service)
    expected = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return Principal(key_id, key.account_id, region)
