#!/usr/bin/python3
"""End-to-end check of the Shoal gRPC API from Python (issue 6).

Talks to a running `shoal serve` with Debian's python3-grpcio, through
stubs generated at run time from proto/shoal/v1/shoal.proto with
python3-grpc-tools (nothing generated is committed). It starts nothing:
.ci/run starts the server, runs this script and stops the server.

    SHOAL_ADDR=127.0.0.1:7370 SHOAL_ADMIN_KEY=... /usr/bin/python3 client/python/shoal_client_test.py

It creates a collection, upserts (unary and streaming), searches (the
nearest hit of a stored vector is itself, and results agree with brute
force), searches in a batch, gets, deletes, checks tenant keys and
status codes, and drops the collection. Exit status 0 means every check
passed; each failure is printed.
"""

import os
import random
import sys
import tempfile

import grpc
from grpc_tools import protoc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_ROOT = os.path.join(REPO, "proto")


def generate_stubs(out):
    """Generates shoal/v1/shoal_pb2{,_grpc}.py under out and imports them."""
    rc = protoc.main([
        "grpc_tools.protoc",
        "-I", PROTO_ROOT,
        "--python_out=" + out,
        "--grpc_python_out=" + out,
        os.path.join(PROTO_ROOT, "shoal", "v1", "shoal.proto"),
    ])
    if rc != 0:
        sys.exit("grpc_tools.protoc failed with status %d" % rc)
    sys.path.insert(0, out)
    from shoal.v1 import shoal_pb2, shoal_pb2_grpc  # noqa: E402
    return shoal_pb2, shoal_pb2_grpc


failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def expect_code(code, fn, what):
    try:
        fn()
    except grpc.RpcError as e:
        check(e.code() == code, "%s: %s (%s)" % (what, e.code(), e.details()))
        return
    check(False, "%s: succeeded, want %s" % (what, code))


def main():
    addr = os.environ.get("SHOAL_ADDR", "127.0.0.1:7370")
    key = os.environ.get("SHOAL_ADMIN_KEY", "")
    with tempfile.TemporaryDirectory() as gen:
        pb, rpc = generate_stubs(gen)
        run(pb, rpc, addr, key)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def run(pb, rpc, addr, key):
    channel = grpc.insecure_channel(addr)
    grpc.channel_ready_future(channel).result(timeout=30)
    admin = [("authorization", "Bearer " + key)] if key else []
    colls = rpc.CollectionServiceStub(channel)
    vecs = rpc.VectorServiceStub(channel)
    tenants = rpc.TenantServiceStub(channel)
    adm = rpc.AdminServiceStub(channel)

    name = "py_%d" % random.randrange(1 << 30)
    dim, n = 8, 500
    rng = random.Random(7)
    data = {1000 + i: [rng.gauss(0, 1) for _ in range(dim)] for i in range(n)}

    c = colls.CreateCollection(pb.CreateCollectionRequest(
        name=name, config=pb.CollectionConfig(dim=dim, metric=pb.METRIC_L2)), metadata=admin, timeout=30)
    check(c.name == name and c.config.dim == dim, "CreateCollection %s dim %d" % (c.name, c.config.dim))

    # Unary upsert of the first 100, streaming upsert of the rest.
    items = sorted(data.items())
    r = vecs.Upsert(pb.UpsertRequest(collection=name, vectors=[
        pb.Vector(id=i, values=v) for i, v in items[:100]]), metadata=admin, timeout=30)
    check(r.upserted == 100, "Upsert: %d upserted" % r.upserted)

    def messages():
        rest = items[100:]
        for j in range(0, len(rest), 150):
            yield pb.UpsertRequest(collection=name, vectors=[pb.Vector(id=i, values=v) for i, v in rest[j:j + 150]])
    r = vecs.UpsertStream(messages(), metadata=admin, timeout=60)
    check(r.upserted == n - 100, "UpsertStream: %d upserted" % r.upserted)

    c = colls.DescribeCollection(pb.DescribeCollectionRequest(name=name), metadata=admin, timeout=30)
    check(c.vector_count == n, "DescribeCollection: %d vectors" % c.vector_count)

    # Search: a stored vector finds itself first; recall@10 vs brute force.
    def brute(q, k):
        d = sorted((sum((a - b) ** 2 for a, b in zip(v, q)), i) for i, v in data.items())
        return [i for _, i in d[:k]]
    hits_total, found = 0, 0
    for qid in [1000, 1042, 1333, 1499]:
        res = vecs.Search(pb.SearchRequest(collection=name, query=data[qid], top_k=10,
                                           params=pb.SearchParams(nprobe=64)), metadata=admin, timeout=30)
        check(len(res.hits) == 10 and res.hits[0].id == qid and abs(res.hits[0].distance) < 1e-4,
              "Search for stored %d: nearest %d at %.2g" % (qid, res.hits[0].id, res.hits[0].distance))
        want = set(brute(data[qid], 10))
        found += len(want & {h.id for h in res.hits})
        hits_total += 10
    check(found / hits_total >= 0.9, "recall@10 vs brute force %.2f (want >= 0.9)" % (found / hits_total))

    b = vecs.SearchBatch(pb.SearchBatchRequest(collection=name, top_k=3, include_vectors=True, queries=[
        pb.Query(values=data[1001]), pb.Query(values=data[1002])]), metadata=admin, timeout=30)
    check(len(b.results) == 2 and b.results[1].hits[0].id == 1002
          and max(abs(x - y) for x, y in zip(b.results[1].hits[0].values, data[1002])) < 1e-6,
          "SearchBatch: 2 results, stored vector returned")

    g = vecs.Get(pb.GetRequest(collection=name, ids=[1003, 5]), metadata=admin, timeout=30)
    check([v.id for v in g.vectors] == [1003] and list(g.missing) == [5], "Get: found 1003, missing 5")

    d = vecs.Delete(pb.DeleteRequest(collection=name, ids=[1003, 1004, 5]), metadata=admin, timeout=30)
    check(d.deleted == 2, "Delete: %d deleted" % d.deleted)

    # Status codes.
    expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: vecs.Search(pb.SearchRequest(
        collection=name, query=[1.0] * (dim + 1), top_k=1), metadata=admin, timeout=30), "wrong dimension")
    expect_code(grpc.StatusCode.NOT_FOUND, lambda: vecs.Search(pb.SearchRequest(
        collection=name + "_nope", query=[1.0] * dim, top_k=1), metadata=admin, timeout=30), "unknown collection")
    if key:
        expect_code(grpc.StatusCode.UNAUTHENTICATED, lambda: colls.ListCollections(
            pb.ListCollectionsRequest(), timeout=30), "no API key")

        # A tenant key sees and deletes only its own vectors.
        tenants.CreateTenant(pb.CreateTenantRequest(collection=name, tenant="acme"), metadata=admin, timeout=30)
        k = adm.CreateAPIKey(pb.CreateAPIKeyRequest(collection=name, tenant="acme"), metadata=admin, timeout=30)
        acme = [("authorization", "Bearer " + k.secret)]
        listed = [c.name for c in colls.ListCollections(pb.ListCollectionsRequest(), metadata=acme, timeout=30).collections]
        check(listed == [name], "a tenant key lists only its collection: %s" % listed)
        vecs.Upsert(pb.UpsertRequest(collection=name, vectors=[pb.Vector(id=1, values=data[1000])]),
                    metadata=acme, timeout=30)
        res = vecs.Search(pb.SearchRequest(collection=name, query=data[1000], top_k=10), metadata=acme, timeout=30)
        check([h.id for h in res.hits] == [1], "tenant search sees only its own: %s" % [h.id for h in res.hits])
        expect_code(grpc.StatusCode.PERMISSION_DENIED, lambda: vecs.Delete(pb.DeleteRequest(
            collection=name, ids=[1000]), metadata=acme, timeout=30), "tenant deletes a vector it does not own")
        expect_code(grpc.StatusCode.PERMISSION_DENIED, lambda: colls.DropCollection(
            pb.DropCollectionRequest(name=name), metadata=acme, timeout=30), "tenant drops the collection")
        d = vecs.Delete(pb.DeleteRequest(collection=name, ids=[1]), metadata=acme, timeout=30)
        check(d.deleted == 1, "tenant deletes its own: %d deleted" % d.deleted)
        adm.RevokeAPIKey(pb.RevokeAPIKeyRequest(id=k.key.id), metadata=admin, timeout=30)

    colls.DropCollection(pb.DropCollectionRequest(name=name), metadata=admin, timeout=30)
    names = [c.name for c in colls.ListCollections(pb.ListCollectionsRequest(), metadata=admin, timeout=30).collections]
    check(name not in names, "DropCollection: gone from the list")
    channel.close()


if __name__ == "__main__":
    main()
