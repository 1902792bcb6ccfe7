"""Errors of the Shoal client: one ShoalError subclass per gRPC status code."""

from __future__ import annotations

from typing import Dict, Type

import grpc


class ShoalError(Exception):
    """A call the server refused or could not complete.

    ``code`` is the gRPC status code (``grpc.StatusCode``), ``message`` the
    server's explanation. Catch a subclass (``InvalidArgumentError``,
    ``NotFoundError``, ...) for one code, or ShoalError for all.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return "%s: %s" % (self.code.name, self.message)


class InvalidArgumentError(ShoalError):
    """Bad request: wrong dimension, NaN, malformed filter, oversize payload..."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(ShoalError):
    """Unknown collection, tenant, vector or job."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(ShoalError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(ShoalError):
    """The key may not do this (a tenant key outside its tenant)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class UnauthenticatedError(ShoalError):
    """No API key, or an unknown or revoked one."""

    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhaustedError(ShoalError):
    """A request or batch above the server's limits, or a write stall."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(ShoalError):
    """Not now: e.g. a write while an import job builds the collection."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class DeadlineExceededError(ShoalError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnavailableError(ShoalError):
    """The server cannot be reached or is shutting down."""

    code = grpc.StatusCode.UNAVAILABLE


class UnimplementedError(ShoalError):
    """The server does not implement this call (an older server)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ShoalError):
    """A server bug or I/O failure (DATA_LOSS and UNKNOWN too)."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: Dict[grpc.StatusCode, Type[ShoalError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        UnauthenticatedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        DeadlineExceededError,
        UnavailableError,
        UnimplementedError,
        InternalError,
    )
}


def from_rpc_error(e: grpc.RpcError) -> ShoalError:
    """Returns the ShoalError of a failed gRPC call."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = e.details() if hasattr(e, "details") else str(e)
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = InternalError if code in (grpc.StatusCode.DATA_LOSS, grpc.StatusCode.UNKNOWN) else ShoalError
    return cls(details or "", code)
