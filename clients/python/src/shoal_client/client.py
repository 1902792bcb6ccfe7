"""The Shoal client: a typed wrapper of the shoal.v1 gRPC API."""

from __future__ import annotations

import functools
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import grpc
from google.protobuf import json_format, struct_pb2

from ._pb import shoal_pb2 as pb
from ._pb import shoal_pb2_grpc as pbg
from .errors import ShoalError, from_rpc_error
from .models import APIKey, CollectionInfo, Hit, ImportJob, Record, Snapshot

#: The server's default largest message (shoal serve): the client accepts
#: responses up to it and sends requests up to it.
DEFAULT_MAX_MESSAGE_BYTES = 64 << 20

# A vector: a sequence of numbers, or anything with .tolist() giving one
# (a numpy array); vectors: a sequence of those, or a 2-D array.
Vector = Any
Vectors = Any
# A label filter: the text syntax ("color=red AND NOT 7") or
# {"all_of": [...], "any_of": [...], "none_of": [...]}.
Filter = Union[str, Mapping[str, Sequence[Union[str, int]]]]

_METRICS = {
    "l2": pb.METRIC_L2,
    "inner_product": pb.METRIC_INNER_PRODUCT,
    "ip": pb.METRIC_INNER_PRODUCT,
    "cosine": pb.METRIC_COSINE,
}
_ELEMENT_TYPES = {
    "float32": pb.ELEMENT_TYPE_FLOAT32,
    "float16": pb.ELEMENT_TYPE_FLOAT16,
    "uint8": pb.ELEMENT_TYPE_UINT8,
    "int8": pb.ELEMENT_TYPE_INT8,
}
_IMPORT_METHODS = {
    "auto": pb.IMPORT_METHOD_AUTO,
    "upsert": pb.IMPORT_METHOD_UPSERT,
    "build": pb.IMPORT_METHOD_BUILD,
}


def _plain(x: Any) -> Any:
    """numpy arrays and scalars to lists and numbers; the rest as is."""
    tolist = getattr(x, "tolist", None)
    return tolist() if callable(tolist) else x


def _vector(v: Vector) -> List[float]:
    v = _plain(v)
    if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
        raise TypeError("a vector is a sequence of numbers, not %s" % type(v).__name__)
    return [float(x) for x in v]


def _ids(ids: Any) -> List[int]:
    ids = _plain(ids)
    if isinstance(ids, int):
        raise TypeError("ids is a sequence of ints; got one int (wrap it in a list)")
    return [int(i) for i in ids]


def _struct(d: Optional[Mapping[str, Any]]) -> Optional[struct_pb2.Struct]:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise TypeError("a payload is a dict (a JSON object), not %s" % type(d).__name__)
    s = struct_pb2.Struct()
    s.update(d)
    return s


def _dict(s: struct_pb2.Struct) -> Dict[str, Any]:
    return json_format.MessageToDict(s)


def _filter(f: Optional[Filter]) -> Dict[str, Any]:
    """The request fields of a filter: filter_expr or filter."""
    if f is None:
        return {}
    if isinstance(f, str):
        return {"filter_expr": f}
    unknown = set(f) - {"all_of", "any_of", "none_of"}
    if unknown:
        raise ValueError("filter keys are all_of, any_of and none_of; got %s" % sorted(unknown))
    return {"filter": pb.Filter(**{k: [str(x) for x in v] for k, v in f.items()})}


def _params(nprobe: Optional[int], epsilon: Optional[float], beam: Optional[int]) -> Optional[pb.SearchParams]:
    if nprobe is None and epsilon is None and beam is None:
        return None
    return pb.SearchParams(nprobe=nprobe or 0, epsilon=epsilon or 0.0, beam=beam or 0)


def _hits(r: pb.SearchResponse) -> List[Hit]:
    return [
        Hit(
            id=h.id,
            distance=h.distance,
            payload=_dict(h.payload) if h.HasField("payload") else None,
            vector=list(h.values) if len(h.values) else None,
        )
        for h in r.hits
    ]


def _collection(c: pb.Collection) -> CollectionInfo:
    cfg = c.config
    return CollectionInfo(
        name=c.name,
        dim=cfg.dim,
        metric=pb.Metric.Name(cfg.metric).removeprefix("METRIC_").lower(),
        element_type=pb.ElementType.Name(cfg.element_type).removeprefix("ELEMENT_TYPE_").lower(),
        vector_count=c.vector_count,
        created_unix_ms=c.created_unix_ms,
        indexed_payload_fields=list(cfg.indexed_payload_fields),
        quant=cfg.quant or "none",  # "": a server from before quantized postings
    )


def _key(k: pb.APIKey, secret: Optional[str] = None) -> APIKey:
    return APIKey(id=k.id, collection=k.collection, tenant=k.tenant, created_unix_ms=k.created_unix_ms, secret=secret)


def _job(j: pb.ImportJob) -> ImportJob:
    return ImportJob(
        id=j.id,
        collection=j.collection,
        state=pb.ImportJob.State.Name(j.state).removeprefix("STATE_"),
        done=j.done,
        total=j.total,
        error=j.error,
        method=pb.ImportMethod.Name(j.method).removeprefix("IMPORT_METHOD_").lower(),
    )


def _stats(m: Any) -> Dict[str, Any]:
    """A stats message as a dict of ints (nested stats as dicts)."""
    out: Dict[str, Any] = {}
    for f in m.DESCRIPTOR.fields:
        v = getattr(m, f.name)
        if f.message_type is not None:
            out[f.name] = [_stats(x) for x in v] if f.label == f.LABEL_REPEATED else _stats(v)
        else:
            out[f.name] = v
    return out


def _calls(method):
    """Turns the gRPC errors of a client method into ShoalErrors."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    return wrapper


class Client:
    """A connection to a Shoal server.

    ``addr`` is "host:port". ``api_key`` is sent with every call
    ("authorization: Bearer <key>"): the admin key, or a tenant key made
    by create_api_key. ``tls``: False for plaintext, True for TLS with
    the system's roots, PEM bytes of the roots to trust, or
    grpc.ChannelCredentials. ``timeout`` (seconds) bounds each call.

    A Client may be used from several threads. Close it (or use it in a
    ``with``) when done.
    """

    def __init__(
        self,
        addr: str,
        api_key: Optional[str] = None,
        tls: Union[bool, bytes, grpc.ChannelCredentials] = False,
        timeout: Optional[float] = 30.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ):
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls is False or tls is None:
            self._channel = grpc.insecure_channel(addr, options=options)
        else:
            if isinstance(tls, grpc.ChannelCredentials):
                creds = tls
            elif isinstance(tls, bytes):
                creds = grpc.ssl_channel_credentials(root_certificates=tls)
            else:
                creds = grpc.ssl_channel_credentials()
            self._channel = grpc.secure_channel(addr, creds, options=options)
        self._metadata = (("authorization", "Bearer " + api_key),) if api_key else ()
        self.timeout = timeout
        self._collections = pbg.CollectionServiceStub(self._channel)
        self._vectors = pbg.VectorServiceStub(self._channel)
        self._tenants = pbg.TenantServiceStub(self._channel)
        self._admin = pbg.AdminServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, rpc, request):
        return rpc(request, timeout=self.timeout, metadata=self._metadata)

    # ------------------------------------------------------------ collections

    @_calls
    def create_collection(
        self,
        name: str,
        dim: int,
        metric: str = "l2",
        element_type: str = "float32",
        posting_cap: int = 0,
        replicas: int = 0,
        nprobe: Optional[int] = None,
        indexed_payload_fields: Sequence[str] = (),
        quant: str = "",
        shards: int = 0,
        replication: int = 0,
    ) -> "Collection":
        """Creates a collection and returns its handle. ``metric`` is l2,
        inner_product (ip) or cosine; ``element_type`` float32, float16,
        uint8 or int8; zero/None knobs take the server's defaults.
        ``quant`` is what postings hold: "none" (full rows in every
        posting; the server's default, ""), "rabitq" (RaBitQ codes, bits
        by dimension) or "rabitq1" ... "rabitq8"; with codes the rows are
        stored once and read only to rerank exactly
        (``describe_collection`` names the bits it got). ``shards`` and
        ``replication`` are for a cluster node (shoal serve -cluster):
        the shards the ids are hashed into and the nodes holding each (0:
        one shard per live node, min(3, live nodes) replicas); a
        single-node server takes 0 or 1."""
        if metric not in _METRICS:
            raise ValueError("metric %r: want one of %s" % (metric, sorted(_METRICS)))
        if element_type not in _ELEMENT_TYPES:
            raise ValueError("element_type %r: want one of %s" % (element_type, sorted(_ELEMENT_TYPES)))
        cfg = pb.CollectionConfig(
            dim=dim,
            metric=_METRICS[metric],
            element_type=_ELEMENT_TYPES[element_type],
            posting_cap=posting_cap,
            replicas=replicas,
            indexed_payload_fields=list(indexed_payload_fields),
            quant=quant,
            shards=shards,
            replication=replication,
        )
        if nprobe:
            cfg.default_search.nprobe = nprobe
        self._call(self._collections.CreateCollection, pb.CreateCollectionRequest(name=name, config=cfg))
        return Collection(self, name)

    def collection(self, name: str) -> "Collection":
        """The handle of an existing collection (no call is made)."""
        return Collection(self, name)

    @_calls
    def describe_collection(self, name: str) -> CollectionInfo:
        return _collection(self._call(self._collections.DescribeCollection, pb.DescribeCollectionRequest(name=name)))

    @_calls
    def list_collections(self) -> List[CollectionInfo]:
        r = self._call(self._collections.ListCollections, pb.ListCollectionsRequest())
        return [_collection(c) for c in r.collections]

    @_calls
    def drop_collection(self, name: str) -> None:
        self._call(self._collections.DropCollection, pb.DropCollectionRequest(name=name))

    # ------------------------------------------------------------ keys, snapshots, imports, stats

    @_calls
    def create_api_key(self, collection: str, tenant: str) -> APIKey:
        """Makes a tenant key for an existing tenant of collection; its
        ``secret`` is returned once."""
        r = self._call(self._admin.CreateAPIKey, pb.CreateAPIKeyRequest(collection=collection, tenant=tenant))
        return _key(r.key, r.secret)

    @_calls
    def list_api_keys(self) -> List[APIKey]:
        return [_key(k) for k in self._call(self._admin.ListAPIKeys, pb.ListAPIKeysRequest()).keys]

    @_calls
    def revoke_api_key(self, key_id: str) -> None:
        self._call(self._admin.RevokeAPIKey, pb.RevokeAPIKeyRequest(id=key_id))

    @_calls
    def create_snapshot(self, collection: str, directory: str) -> Snapshot:
        """Writes a snapshot of collection to directory, a relative path
        under the server's snapshot directory that must not exist."""
        r = self._call(self._admin.CreateSnapshot, pb.CreateSnapshotRequest(collection=collection, directory=directory))
        return Snapshot(directory=r.directory, bytes=r.bytes, vectors=r.vectors, raw_bytes=r.raw_bytes)

    @_calls
    def restore_snapshot(self, directory: str, collection: str) -> "Collection":
        """Makes a new collection of a snapshot and returns its handle."""
        self._call(self._admin.RestoreSnapshot, pb.RestoreSnapshotRequest(directory=directory, collection=collection))
        return Collection(self, collection)

    @_calls
    def start_import(
        self, collection: str, path: str, first_id: int = 0, tenant: Optional[str] = None, method: str = "auto"
    ) -> ImportJob:
        """Starts loading a vector file on the server (under its import
        directory) into collection; poll get_import."""
        req = pb.StartImportRequest(
            collection=collection, path=path, first_id=first_id, tenant=tenant or "", method=_IMPORT_METHODS[method]
        )
        return _job(self._call(self._admin.StartImport, req))

    @_calls
    def get_import(self, job_id: str) -> ImportJob:
        return _job(self._call(self._admin.GetImport, pb.GetImportRequest(id=job_id)))

    @_calls
    def server_stats(self) -> Dict[str, Any]:
        """Server counters: collections, uptime_ms, heap_bytes and
        collection_stats (one dict per collection)."""
        return _stats(self._call(self._admin.GetServerStats, pb.GetServerStatsRequest()))


class Collection:
    """A handle on one collection of a Client; its methods call the
    server. Vectors are sequences of numbers or numpy arrays (anything
    with ``tolist()``); a batch of vectors may be a 2-D array. ``tenant``
    acts as that tenant (a tenant key always acts as its own)."""

    def __init__(self, client: Client, name: str):
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return "Collection(%r)" % self.name

    def _call(self, rpc, request):
        return self.client._call(rpc, request)

    def info(self) -> CollectionInfo:
        return self.client.describe_collection(self.name)

    def drop(self) -> None:
        self.client.drop_collection(self.name)

    def _upsert_request(self, ids, vectors, payloads, labels, tenant) -> pb.UpsertRequest:
        ids = _ids(ids)
        vectors = _plain(vectors)
        if len(vectors) != len(ids):
            raise ValueError("%d ids and %d vectors" % (len(ids), len(vectors)))
        for name, extra in (("payloads", payloads), ("labels", labels)):
            if extra is not None and len(extra) != len(ids):
                raise ValueError("%d ids and %d %s" % (len(ids), len(extra), name))
        req = pb.UpsertRequest(collection=self.name, tenant=tenant or "")
        for i, (id_, v) in enumerate(zip(ids, vectors)):
            pv = req.vectors.add(id=id_, values=_vector(v))
            if labels is not None and labels[i]:
                pv.labels.extend(str(x) for x in labels[i])
            if payloads is not None and payloads[i] is not None:
                pv.payload.CopyFrom(_struct(payloads[i]))
        return req

    @_calls
    def upsert(
        self,
        ids: Sequence[int],
        vectors: Vectors,
        payloads: Optional[Sequence[Optional[Mapping[str, Any]]]] = None,
        labels: Optional[Sequence[Sequence[Union[str, int]]]] = None,
        tenant: Optional[str] = None,
    ) -> int:
        """Inserts or replaces vectors; returns how many. ``payloads``: a
        dict (JSON object) or None per vector; ``labels``: a list of label
        names ("color=red") or ids per vector. A vector without a payload
        keeps its stored one; labels, when any vector has some, replace
        every vector's."""
        return self._call(self.client._vectors.Upsert, self._upsert_request(ids, vectors, payloads, labels, tenant)).upserted

    @_calls
    def upsert_stream(self, ids: Sequence[int], vectors: Vectors, batch: int = 1000, tenant: Optional[str] = None) -> int:
        """Upserts many vectors over one client stream, ``batch`` a message."""
        ids, vectors = _ids(ids), _plain(vectors)

        def messages() -> Iterator[pb.UpsertRequest]:
            for at in range(0, len(ids), batch):
                yield self._upsert_request(ids[at : at + batch], vectors[at : at + batch], None, None, tenant)

        return self.client._vectors.UpsertStream(
            messages(), timeout=self.client.timeout, metadata=self.client._metadata
        ).upserted

    @_calls
    def search(
        self,
        vector: Vector,
        k: int,
        nprobe: Optional[int] = None,
        filter: Optional[Filter] = None,
        tenant: Optional[str] = None,
        include_payload: bool = False,
        include_vectors: bool = False,
        epsilon: Optional[float] = None,
        beam: Optional[int] = None,
    ) -> List[Hit]:
        """The k nearest vectors to ``vector``, nearest first. ``filter``
        is a label filter: text ("color=red AND NOT 7") or a dict of
        all_of/any_of/none_of lists."""
        req = pb.SearchRequest(
            collection=self.name,
            query=_vector(vector),
            top_k=k,
            params=_params(nprobe, epsilon, beam),
            tenant=tenant or "",
            include_payload=include_payload,
            include_vectors=include_vectors,
            **_filter(filter),
        )
        return _hits(self._call(self.client._vectors.Search, req))

    @_calls
    def search_batch(
        self,
        vectors: Vectors,
        k: int,
        nprobe: Optional[int] = None,
        filter: Optional[Filter] = None,
        tenant: Optional[str] = None,
        include_payload: bool = False,
        include_vectors: bool = False,
    ) -> List[List[Hit]]:
        """search for each of several queries (a list or a 2-D array)."""
        req = pb.SearchBatchRequest(
            collection=self.name,
            queries=[pb.Query(values=_vector(v)) for v in _plain(vectors)],
            top_k=k,
            params=_params(nprobe, None, None),
            tenant=tenant or "",
            include_payload=include_payload,
            include_vectors=include_vectors,
            **_filter(filter),
        )
        return [_hits(r) for r in self._call(self.client._vectors.SearchBatch, req).results]

    @_calls
    def get(self, ids: Sequence[int], tenant: Optional[str] = None) -> List[Record]:
        """The stored vectors of ids, in request order; ids not found (or
        not readable by the tenant) are left out."""
        r = self._call(self.client._vectors.Get, pb.GetRequest(collection=self.name, ids=_ids(ids), tenant=tenant or ""))
        return [
            Record(
                id=v.id,
                vector=list(v.values),
                labels=list(v.labels),
                payload=_dict(v.payload) if v.HasField("payload") else None,
            )
            for v in r.vectors
        ]

    @_calls
    def delete(self, ids: Sequence[int], tenant: Optional[str] = None) -> int:
        """Deletes vectors (and their payloads); returns how many ids held one."""
        return self._call(
            self.client._vectors.Delete, pb.DeleteRequest(collection=self.name, ids=_ids(ids), tenant=tenant or "")
        ).deleted

    @_calls
    def set_payloads(self, payloads: Mapping[int, Optional[Mapping[str, Any]]], tenant: Optional[str] = None) -> int:
        """Replaces the payloads of vectors: {id: dict, or None to remove it}."""
        req = pb.SetPayloadsRequest(collection=self.name, tenant=tenant or "")
        for id_, p in payloads.items():
            ps = req.vectors.add(id=int(id_))
            if p is not None:
                ps.payload.CopyFrom(_struct(p))
        return self._call(self.client._vectors.SetPayloads, req).updated

    @_calls
    def set_labels(self, labels: Mapping[int, Sequence[Union[str, int]]], tenant: Optional[str] = None) -> int:
        """Replaces the labels of vectors: {id: [label names or int ids]};
        [] removes them. Ints travel as label ids, strings as names (or
        decimal ids)."""
        req = pb.SetLabelsRequest(collection=self.name, tenant=tenant or "")
        for id_, ls in labels.items():
            ls = _plain(ls)
            req.vectors.add(
                id=int(id_),
                labels=[int(x) for x in ls if not isinstance(x, str)],
                names=[x for x in ls if isinstance(x, str)],
            )
        return self._call(self.client._vectors.SetLabels, req).updated

    @_calls
    def list_labels(self) -> Dict[str, int]:
        """The collection's label names and their ids."""
        r = self._call(self.client._vectors.ListLabels, pb.ListLabelsRequest(collection=self.name))
        return {l.name: l.id for l in r.labels}

    @_calls
    def stats(self) -> Dict[str, int]:
        """The collection's counters since the server started."""
        return _stats(self._call(self.client._collections.GetStats, pb.GetStatsRequest(collection=self.name)))

    # ------------------------------------------------------------ tenants

    @_calls
    def create_tenant(self, tenant: str) -> None:
        self._call(self.client._tenants.CreateTenant, pb.CreateTenantRequest(collection=self.name, tenant=tenant))

    @_calls
    def delete_tenant(self, tenant: str) -> None:
        """Deletes the tenant, the vectors it owns and its keys."""
        self._call(self.client._tenants.DeleteTenant, pb.DeleteTenantRequest(collection=self.name, tenant=tenant))

    @_calls
    def list_tenants(self) -> List[str]:
        return list(self._call(self.client._tenants.ListTenants, pb.ListTenantsRequest(collection=self.name)).tenants)

    @_calls
    def grant(self, tenant: str, ids: Sequence[int]) -> None:
        """Lets tenant read vectors it does not own."""
        self._call(self.client._tenants.Grant, pb.GrantRequest(collection=self.name, tenant=tenant, ids=_ids(ids)))

    @_calls
    def revoke(self, tenant: str, ids: Sequence[int]) -> None:
        self._call(self.client._tenants.Revoke, pb.RevokeRequest(collection=self.name, tenant=tenant, ids=_ids(ids)))


__all__ = ["Client", "Collection", "ShoalError", "DEFAULT_MAX_MESSAGE_BYTES"]
