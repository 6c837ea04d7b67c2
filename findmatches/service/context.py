"""What every operation knows about its caller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """The caller's account and region (from the SigV4 credential scope) and this request's id."""

    account_id: str
    region: str
    request_id: str = ""

    def transform_arn(self, transform_id: str) -> str:
        return f"arn:aws:glue:{self.region}:{self.account_id}:mlTransform/{transform_id}"
