"""Python client of the Shoal vector database (gRPC API shoal.v1).

    from shoal_client import Client

    client = Client("localhost:7370", api_key="...")
    docs = client.create_collection("docs", dim=3)
    docs.upsert(ids=[1, 2], vectors=[[1, 0, 0], [0, 1, 0]], payloads=[{"title": "a"}, None])
    hits = docs.search([0.9, 0.1, 0], k=1, include_payload=True)

Vectors may be lists or numpy arrays; results are plain dataclasses
(Hit, Record, ...); a refused call raises a ShoalError subclass carrying
the gRPC status code.
"""

from .client import DEFAULT_MAX_MESSAGE_BYTES, Client, Collection
from .errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ShoalError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
)
from .models import APIKey, CollectionInfo, Hit, ImportJob, Record, Snapshot

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Collection",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "Hit",
    "Record",
    "CollectionInfo",
    "APIKey",
    "Snapshot",
    "ImportJob",
    "ShoalError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "DeadlineExceededError",
    "UnavailableError",
    "UnimplementedError",
    "InternalError",
]
