"""Plain objects the Shoal client returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Hit:
    """One search result: a vector's id and its distance to the query
    (smaller is nearer), with its payload when the search asked for it
    (``include_payload``; None when the vector has none) and its values
    when it asked for those (``include_vectors``)."""

    id: int
    distance: float
    payload: Optional[Dict[str, Any]] = None
    vector: Optional[List[float]] = None


@dataclass
class Record:
    """A stored vector, as ``get`` returns it: its values, its labels
    (by name where they have one, else decimal ids) and its payload."""

    id: int
    vector: List[float]
    labels: List[str] = field(default_factory=list)
    payload: Optional[Dict[str, Any]] = None


@dataclass
class CollectionInfo:
    """A collection's shape and size (``vector_count`` is, for a tenant
    key, the vectors its tenant may read). ``quant`` is what its postings
    hold: "none", or "rabitq" with its bits ("rabitq4")."""

    name: str
    dim: int
    metric: str
    element_type: str
    vector_count: int
    created_unix_ms: int
    indexed_payload_fields: List[str] = field(default_factory=list)
    quant: str = "none"


@dataclass
class APIKey:
    """A tenant key. ``secret`` is set only on the answer of create_api_key:
    the server keeps a hash."""

    id: str
    collection: str
    tenant: str
    created_unix_ms: int
    secret: Optional[str] = None


@dataclass
class Snapshot:
    """A snapshot written by create_snapshot."""

    directory: str
    bytes: int
    vectors: int
    raw_bytes: int


@dataclass
class ImportJob:
    """A bulk import job (start_import, get_import)."""

    id: str
    collection: str
    state: str  # RUNNING, DONE, FAILED or CANCELLED
    done: int
    total: int
    error: str
    method: str
