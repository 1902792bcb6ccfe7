from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
ELEMENT_TYPE_FLOAT16: ElementType
ELEMENT_TYPE_FLOAT32: ElementType
ELEMENT_TYPE_INT8: ElementType
ELEMENT_TYPE_UINT8: ElementType
ELEMENT_TYPE_UNSPECIFIED: ElementType
IMPORT_METHOD_AUTO: ImportMethod
IMPORT_METHOD_BUILD: ImportMethod
IMPORT_METHOD_UPSERT: ImportMethod
METRIC_COSINE: Metric
METRIC_INNER_PRODUCT: Metric
METRIC_L2: Metric
METRIC_UNSPECIFIED: Metric

class APIKey(_message.Message):
    __slots__ = ["collection", "created_unix_ms", "id", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    created_unix_ms: int
    id: str
    tenant: str
    def __init__(self, id: _Optional[str] = ..., tenant: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., collection: _Optional[str] = ...) -> None: ...

class CancelImportRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ["config", "created_unix_ms", "name", "vector_count"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    config: CollectionConfig
    created_unix_ms: int
    name: str
    vector_count: int
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ..., vector_count: _Optional[int] = ..., created_unix_ms: _Optional[int] = ...) -> None: ...

class CollectionConfig(_message.Message):
    __slots__ = ["default_search", "dim", "element_type", "indexed_payload_fields", "metric", "posting_cap", "quant", "replicas", "replication", "shards"]
    DEFAULT_SEARCH_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_PAYLOAD_FIELDS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    POSTING_CAP_FIELD_NUMBER: _ClassVar[int]
    QUANT_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    default_search: SearchParams
    dim: int
    element_type: ElementType
    indexed_payload_fields: _containers.RepeatedScalarFieldContainer[str]
    metric: Metric
    posting_cap: int
    quant: str
    replicas: int
    replication: int
    shards: int
    def __init__(self, dim: _Optional[int] = ..., metric: _Optional[_Union[Metric, str]] = ..., element_type: _Optional[_Union[ElementType, str]] = ..., posting_cap: _Optional[int] = ..., replicas: _Optional[int] = ..., default_search: _Optional[_Union[SearchParams, _Mapping]] = ..., indexed_payload_fields: _Optional[_Iterable[str]] = ..., quant: _Optional[str] = ..., shards: _Optional[int] = ..., replication: _Optional[int] = ...) -> None: ...

class CollectionStats(_message.Message):
    __slots__ = ["bytes_read", "cache_bytes", "cache_hits", "cache_misses", "collection", "deleted", "heads", "merges", "postings_read", "queries", "read_ops", "reassigned", "splits", "tail_bytes", "upserted", "vector_count", "vectors_read"]
    BYTES_READ_FIELD_NUMBER: _ClassVar[int]
    CACHE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    CACHE_MISSES_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    HEADS_FIELD_NUMBER: _ClassVar[int]
    MERGES_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_READ_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    READ_OPS_FIELD_NUMBER: _ClassVar[int]
    REASSIGNED_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    TAIL_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    VECTORS_READ_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    bytes_read: int
    cache_bytes: int
    cache_hits: int
    cache_misses: int
    collection: str
    deleted: int
    heads: int
    merges: int
    postings_read: int
    queries: int
    read_ops: int
    reassigned: int
    splits: int
    tail_bytes: int
    upserted: int
    vector_count: int
    vectors_read: int
    def __init__(self, collection: _Optional[str] = ..., vector_count: _Optional[int] = ..., heads: _Optional[int] = ..., queries: _Optional[int] = ..., postings_read: _Optional[int] = ..., vectors_read: _Optional[int] = ..., bytes_read: _Optional[int] = ..., read_ops: _Optional[int] = ..., cache_hits: _Optional[int] = ..., cache_misses: _Optional[int] = ..., cache_bytes: _Optional[int] = ..., upserted: _Optional[int] = ..., deleted: _Optional[int] = ..., tail_bytes: _Optional[int] = ..., splits: _Optional[int] = ..., merges: _Optional[int] = ..., reassigned: _Optional[int] = ...) -> None: ...

class CreateAPIKeyRequest(_message.Message):
    __slots__ = ["collection", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

class CreateAPIKeyResponse(_message.Message):
    __slots__ = ["key", "secret"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: APIKey
    secret: str
    def __init__(self, key: _Optional[_Union[APIKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ["config", "name"]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    config: CollectionConfig
    name: str
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ["collection", "directory"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    directory: str
    def __init__(self, collection: _Optional[str] = ..., directory: _Optional[str] = ...) -> None: ...

class CreateSnapshotResponse(_message.Message):
    __slots__ = ["bytes", "directory", "raw_bytes", "vectors"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    RAW_BYTES_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    directory: str
    raw_bytes: int
    vectors: int
    def __init__(self, directory: _Optional[str] = ..., bytes: _Optional[int] = ..., vectors: _Optional[int] = ..., raw_bytes: _Optional[int] = ...) -> None: ...

class CreateTenantRequest(_message.Message):
    __slots__ = ["collection", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class CreateTenantResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ["collection", "ids", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ..., tenant: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ["deleted"]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class DeleteTenantRequest(_message.Message):
    __slots__ = ["collection", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., tenant: _Optional[str] = ...) -> None: ...

class DeleteTenantResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DropCollectionResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Filter(_message.Message):
    __slots__ = ["all_of", "any_of", "none_of"]
    ALL_OF_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    NONE_OF_FIELD_NUMBER: _ClassVar[int]
    all_of: _containers.RepeatedScalarFieldContainer[str]
    any_of: _containers.RepeatedScalarFieldContainer[str]
    none_of: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, all_of: _Optional[_Iterable[str]] = ..., any_of: _Optional[_Iterable[str]] = ..., none_of: _Optional[_Iterable[str]] = ...) -> None: ...

class GetImportRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ["collection", "ids", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ..., tenant: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ["missing", "vectors"]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[int]
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ..., missing: _Optional[_Iterable[int]] = ...) -> None: ...

class GetServerStatsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class GrantRequest(_message.Message):
    __slots__ = ["collection", "ids", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., tenant: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GrantResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class Hit(_message.Message):
    __slots__ = ["distance", "id", "payload", "values"]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    distance: float
    id: int
    payload: _struct_pb2.Struct
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[int] = ..., distance: _Optional[float] = ..., values: _Optional[_Iterable[float]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ImportJob(_message.Message):
    __slots__ = ["collection", "done", "error", "finished_unix_ms", "first_id", "id", "method", "path", "resumed", "stage", "stage_done", "stage_total", "started_unix_ms", "state", "tenant", "total"]
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    STAGE_DONE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_CANCELLED: ImportJob.State
    STATE_DONE: ImportJob.State
    STATE_FAILED: ImportJob.State
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_RUNNING: ImportJob.State
    STATE_UNSPECIFIED: ImportJob.State
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    collection: str
    done: int
    error: str
    finished_unix_ms: int
    first_id: int
    id: str
    method: ImportMethod
    path: str
    resumed: int
    stage: str
    stage_done: int
    stage_total: int
    started_unix_ms: int
    state: ImportJob.State
    tenant: str
    total: int
    def __init__(self, id: _Optional[str] = ..., collection: _Optional[str] = ..., state: _Optional[_Union[ImportJob.State, str]] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., error: _Optional[str] = ..., path: _Optional[str] = ..., first_id: _Optional[int] = ..., tenant: _Optional[str] = ..., started_unix_ms: _Optional[int] = ..., finished_unix_ms: _Optional[int] = ..., method: _Optional[_Union[ImportMethod, str]] = ..., stage: _Optional[str] = ..., stage_done: _Optional[int] = ..., stage_total: _Optional[int] = ..., resumed: _Optional[int] = ...) -> None: ...

class ImportRequest(_message.Message):
    __slots__ = ["collection", "dim", "element_type", "first_id", "method", "rows", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    dim: int
    element_type: ElementType
    first_id: int
    method: ImportMethod
    rows: bytes
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., first_id: _Optional[int] = ..., tenant: _Optional[str] = ..., method: _Optional[_Union[ImportMethod, str]] = ..., element_type: _Optional[_Union[ElementType, str]] = ..., dim: _Optional[int] = ..., rows: _Optional[bytes] = ...) -> None: ...

class LabelName(_message.Message):
    __slots__ = ["id", "name"]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    def __init__(self, name: _Optional[str] = ..., id: _Optional[int] = ...) -> None: ...

class LabelSet(_message.Message):
    __slots__ = ["id", "labels", "names"]
    ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    id: int
    labels: _containers.RepeatedScalarFieldContainer[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[int] = ..., labels: _Optional[_Iterable[int]] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAPIKeysRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListAPIKeysResponse(_message.Message):
    __slots__ = ["keys"]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[APIKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[APIKey, _Mapping]]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ["collections"]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class ListImportsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListImportsResponse(_message.Message):
    __slots__ = ["jobs"]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[ImportJob]
    def __init__(self, jobs: _Optional[_Iterable[_Union[ImportJob, _Mapping]]] = ...) -> None: ...

class ListLabelsRequest(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListLabelsResponse(_message.Message):
    __slots__ = ["labels"]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[LabelName]
    def __init__(self, labels: _Optional[_Iterable[_Union[LabelName, _Mapping]]] = ...) -> None: ...

class ListTenantsRequest(_message.Message):
    __slots__ = ["collection"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    def __init__(self, collection: _Optional[str] = ...) -> None: ...

class ListTenantsResponse(_message.Message):
    __slots__ = ["tenants"]
    TENANTS_FIELD_NUMBER: _ClassVar[int]
    tenants: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenants: _Optional[_Iterable[str]] = ...) -> None: ...

class PayloadSet(_message.Message):
    __slots__ = ["id", "payload"]
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    id: int
    payload: _struct_pb2.Struct
    def __init__(self, id: _Optional[int] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Query(_message.Message):
    __slots__ = ["values"]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ["collection", "directory"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    directory: str
    def __init__(self, directory: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

class RevokeAPIKeyRequest(_message.Message):
    __slots__ = ["id"]
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RevokeAPIKeyResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RevokeRequest(_message.Message):
    __slots__ = ["collection", "ids", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[int]
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., tenant: _Optional[str] = ..., ids: _Optional[_Iterable[int]] = ...) -> None: ...

class RevokeResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ["collection", "filter", "filter_expr", "include_payload", "include_vectors", "params", "queries", "tenant", "top_k"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPR_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: Filter
    filter_expr: str
    include_payload: bool
    include_vectors: bool
    params: SearchParams
    queries: _containers.RepeatedCompositeFieldContainer[Query]
    tenant: str
    top_k: int
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[Query, _Mapping]]] = ..., top_k: _Optional[int] = ..., params: _Optional[_Union[SearchParams, _Mapping]] = ..., tenant: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., include_vectors: bool = ..., filter_expr: _Optional[str] = ..., include_payload: bool = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ["first_query", "results"]
    FIRST_QUERY_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    first_query: int
    results: _containers.RepeatedCompositeFieldContainer[SearchResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResponse, _Mapping]]] = ..., first_query: _Optional[int] = ...) -> None: ...

class SearchParams(_message.Message):
    __slots__ = ["beam", "epsilon", "nprobe"]
    BEAM_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    NPROBE_FIELD_NUMBER: _ClassVar[int]
    beam: int
    epsilon: float
    nprobe: int
    def __init__(self, nprobe: _Optional[int] = ..., epsilon: _Optional[float] = ..., beam: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ["collection", "filter", "filter_expr", "include_payload", "include_vectors", "params", "query", "tenant", "top_k"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_EXPR_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    collection: str
    filter: Filter
    filter_expr: str
    include_payload: bool
    include_vectors: bool
    params: SearchParams
    query: _containers.RepeatedScalarFieldContainer[float]
    tenant: str
    top_k: int
    def __init__(self, collection: _Optional[str] = ..., query: _Optional[_Iterable[float]] = ..., top_k: _Optional[int] = ..., params: _Optional[_Union[SearchParams, _Mapping]] = ..., tenant: _Optional[str] = ..., filter: _Optional[_Union[Filter, _Mapping]] = ..., include_vectors: bool = ..., filter_expr: _Optional[str] = ..., include_payload: bool = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ["hits"]
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ...) -> None: ...

class ServerStats(_message.Message):
    __slots__ = ["collection_stats", "collections", "heap_bytes", "uptime_ms"]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_STATS_FIELD_NUMBER: _ClassVar[int]
    HEAP_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    collection_stats: _containers.RepeatedCompositeFieldContainer[CollectionStats]
    collections: int
    heap_bytes: int
    uptime_ms: int
    def __init__(self, collections: _Optional[int] = ..., uptime_ms: _Optional[int] = ..., heap_bytes: _Optional[int] = ..., collection_stats: _Optional[_Iterable[_Union[CollectionStats, _Mapping]]] = ...) -> None: ...

class SetLabelsRequest(_message.Message):
    __slots__ = ["collection", "tenant", "vectors"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    vectors: _containers.RepeatedCompositeFieldContainer[LabelSet]
    def __init__(self, collection: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[LabelSet, _Mapping]]] = ..., tenant: _Optional[str] = ...) -> None: ...

class SetLabelsResponse(_message.Message):
    __slots__ = ["updated"]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    updated: int
    def __init__(self, updated: _Optional[int] = ...) -> None: ...

class SetPayloadsRequest(_message.Message):
    __slots__ = ["collection", "tenant", "vectors"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    vectors: _containers.RepeatedCompositeFieldContainer[PayloadSet]
    def __init__(self, collection: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[PayloadSet, _Mapping]]] = ..., tenant: _Optional[str] = ...) -> None: ...

class SetPayloadsResponse(_message.Message):
    __slots__ = ["updated"]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    updated: int
    def __init__(self, updated: _Optional[int] = ...) -> None: ...

class StartImportRequest(_message.Message):
    __slots__ = ["collection", "first_id", "method", "path", "tenant"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FIRST_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    first_id: int
    method: ImportMethod
    path: str
    tenant: str
    def __init__(self, collection: _Optional[str] = ..., path: _Optional[str] = ..., first_id: _Optional[int] = ..., tenant: _Optional[str] = ..., method: _Optional[_Union[ImportMethod, str]] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ["collection", "tenant", "vectors"]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    VECTORS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tenant: str
    vectors: _containers.RepeatedCompositeFieldContainer[Vector]
    def __init__(self, collection: _Optional[str] = ..., vectors: _Optional[_Iterable[_Union[Vector, _Mapping]]] = ..., tenant: _Optional[str] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ["upserted"]
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    upserted: int
    def __init__(self, upserted: _Optional[int] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ["id", "labels", "payload", "values"]
    ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    id: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., labels: _Optional[_Iterable[str]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ElementType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ImportMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
