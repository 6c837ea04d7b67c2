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


# Modelled Glue errors.


class EntityNotFoundException(ApiError):
    """Glue's ``EntityNotFoundException``."""

    code = "EntityNotFoundException"


class InvalidInputException(ApiError):
    """Glue's ``InvalidInputException``."""

    code = "InvalidInputException"


class AlreadyExistsException(ApiError):
    """Glue's ``AlreadyExistsException``."""

    code = "AlreadyExistsException"


class ResourceNumberLimitExceededException(ApiError):
    """Glue's ``ResourceNumberLimitExceededException``."""

    code = "ResourceNumberLimitExceededException"


class ConcurrentRunsExceededException(ApiError):
    """Glue's ``ConcurrentRunsExceededException``."""

    code = "ConcurrentRunsExceededException"


class MLTransformNotReadyException(ApiError):
    """Glue's ``MLTransformNotReadyException``."""

    code = "MLTransformNotReadyException"


class OperationTimeoutException(ApiError):
    """Glue's ``OperationTimeoutException``."""

    code = "OperationTimeoutException"


class AccessDeniedException(ApiError):
    """Glue's ``AccessDeniedException``."""

    code = "AccessDeniedException"


class InternalServiceException(ApiError):
    """Glue's ``InternalServiceException``."""

    code = "InternalServiceException"
    status = 500


# Protocol-level errors that AWS sends without modelling them.


class ValidationException(ApiError):
    """Glue's ``ValidationException``."""

    code = "ValidationException"


class SerializationException(ApiError):
    """Glue's ``SerializationException``."""

    code = "SerializationException"


class UnknownOperationException(ApiError):
    """Glue's ``UnknownOperationException``."""

    code = "UnknownOperationException"


class MissingAuthenticationTokenException(ApiError):
    """Glue's ``MissingAuthenticationTokenException``."""

    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientException(ApiError):
    """Glue's ``UnrecognizedClientException``."""

    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(ApiError):
    """Glue's ``InvalidSignatureException``."""

    code = "InvalidSignatureException"
    status = 403


class IncompleteSignatureException(ApiError):
    """Glue's ``IncompleteSignatureException``."""

    code = "IncompleteSignatureException"
    status = 403


class RequestExpired(ApiError):
    """Glue's ``RequestExpired``."""

    code = "RequestExpired"
    status = 403


class RequestEntityTooLargeException(ApiError):
    """Glue's ``RequestEntityTooLargeException``."""

    code = "RequestEntityTooLargeException"
    status = 413


class ThrottlingException(ApiError):
    """Glue's ``ThrottlingException``: the account's request rate is over its limit."""

    code = "ThrottlingException"


class RequestTimeoutException(ApiError):
    """The request body stopped arriving (a Content-Length or chunk size that lies): the connection closes."""

    code = "RequestTimeoutException"
    status = 408


class NotImplementedOperationException(ApiError):
    """Glue's ``NotImplementedOperationException``."""

    code = "NotImplementedOperationException"
