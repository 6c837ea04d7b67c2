"""API errors: each knows its Glue error code and HTTP status; `app.py` serializes them."""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    """An error answered to the client as ``{"__type": code, "Message": message}``."""

    code: ClassVar[str] = "InternalServiceException"
    status: ClassVar[int] = 400

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


def _error(code: str, status: int = 400) -> type[ApiError]:
    return type(code, (ApiError,), {"code": code, "status": status, "__doc__": f"Glue's ``{code}``."})


# Modelled Glue errors.
EntityNotFoundException = _error("EntityNotFoundException")
InvalidInputException = _error("InvalidInputException")
AlreadyExistsException = _error("AlreadyExistsException")
ResourceNumberLimitExceededException = _error("ResourceNumberLimitExceededException")
ConcurrentRunsExceededException = _error("ConcurrentRunsExceededException")
MLTransformNotReadyException = _error("MLTransformNotReadyException")
OperationTimeoutException = _error("OperationTimeoutException")
AccessDeniedException = _error("AccessDeniedException")
InternalServiceException = _error("InternalServiceException", 500)
# Protocol-level errors that AWS sends without modelling them.
ValidationException = _error("ValidationException")
SerializationException = _error("SerializationException")
UnknownOperationException = _error("UnknownOperationException")
MissingAuthenticationTokenException = _error("MissingAuthenticationTokenException", 403)
UnrecognizedClientException = _error("UnrecognizedClientException", 403)
InvalidSignatureException = _error("InvalidSignatureException", 403)
IncompleteSignatureException = _error("IncompleteSignatureException", 403)
RequestExpired = _error("RequestExpired", 403)
RequestEntityTooLargeException = _error("RequestEntityTooLargeException", 413)
NotImplementedOperationException = _error("NotImplementedOperationException")
