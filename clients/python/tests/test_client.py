#!/usr/bin/env python3
"""End-to-end tests of shoal_client against a running `shoal serve`.

It starts nothing: .ci/run starts the server, installs the package into a
venv and runs this program with that venv's python:

    SHOAL_ADDR=127.0.0.1:7370 SHOAL_ADMIN_KEY=... python tests/test_client.py

SHOAL_ADMIN_KEY must be the server's admin key (the tenant-key tests
need authentication on). ReadmeExampleTest runs the Python example of
the repository's README.md ("REST and Python").
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import sys
import unittest

import grpc

import shoal_client
from shoal_client import (
    Client,
    Hit,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ShoalError,
    UnauthenticatedError,
)

ADDR = os.environ.get("SHOAL_ADDR", "127.0.0.1:7370")
ADMIN_KEY = os.environ.get("SHOAL_ADMIN_KEY", "")
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "README.md")

try:
    import numpy
except ImportError:  # numpy is optional: lists work everywhere
    numpy = None


def unique(prefix: str) -> str:
    return "%s_%d" % (prefix, random.randrange(1 << 30))


def brute_force(data, q, k):
    d = sorted((sum((a - b) ** 2 for a, b in zip(v, q)), i) for i, v in data.items())
    return [i for _, i in d[:k]]


class ClientTest(unittest.TestCase):
    """The API through the wrapper, on one collection of 500 vectors."""

    dim, n = 8, 500

    @classmethod
    def setUpClass(cls):
        if not ADMIN_KEY:
            raise unittest.SkipTest("SHOAL_ADMIN_KEY is not set")
        cls.client = Client(ADDR, api_key=ADMIN_KEY)
        cls.name = unique("py")
        rng = random.Random(7)
        cls.data = {1000 + i: [rng.gauss(0, 1) for _ in range(cls.dim)] for i in range(cls.n)}
        cls.coll = cls.client.create_collection(cls.name, dim=cls.dim)
        items = sorted(cls.data.items())
        # Unary upsert of the first 100, a client stream for the rest.
        ids = [i for i, _ in items]
        vecs = [v for _, v in items]
        assert cls.coll.upsert(ids[:100], vecs[:100]) == 100
        assert cls.coll.upsert_stream(ids[100:], vecs[100:], batch=150) == cls.n - 100

    @classmethod
    def tearDownClass(cls):
        with contextlib.suppress(ShoalError):
            cls.client.drop_collection(cls.name)
        cls.client.close()

    def test_describe_and_list(self):
        info = self.coll.info()
        self.assertEqual((info.name, info.dim, info.metric, info.vector_count), (self.name, self.dim, "l2", self.n))
        self.assertIn(self.name, [c.name for c in self.client.list_collections()])

    def test_search_finds_stored_vectors_and_agrees_with_brute_force(self):
        found = 0
        for qid in [1000, 1042, 1333, 1499]:
            hits = self.coll.search(self.data[qid], k=10, nprobe=64)
            self.assertEqual(len(hits), 10)
            self.assertIsInstance(hits[0], Hit)
            self.assertEqual(hits[0].id, qid, "a stored vector's nearest is itself")
            self.assertLess(abs(hits[0].distance), 1e-4)
            self.assertIsNone(hits[0].payload, "no payload unless include_payload")
            found += len(set(brute_force(self.data, self.data[qid], 10)) & {h.id for h in hits})
        self.assertGreaterEqual(found / 40, 0.9, "recall@10 against brute force")

    def test_search_batch(self):
        res = self.coll.search_batch([self.data[1001], self.data[1002]], k=3, include_vectors=True)
        self.assertEqual([r[0].id for r in res], [1001, 1002])
        self.assertLess(max(abs(x - y) for x, y in zip(res[1][0].vector, self.data[1002])), 1e-6)

    def test_numpy_arrays(self):
        if numpy is None:
            self.skipTest("numpy is not installed (optional)")
        q = numpy.asarray(self.data[1010], dtype=numpy.float32)
        self.assertEqual(self.coll.search(q, k=1)[0].id, 1010)
        batch = numpy.asarray([self.data[1011], self.data[1012]], dtype=numpy.float32)
        self.assertEqual([r[0].id for r in self.coll.search_batch(batch, k=1)], [1011, 1012])
        self.assertEqual(self.coll.get(numpy.asarray([1013], dtype=numpy.uint64))[0].id, 1013)

    def test_get_and_delete(self):
        recs = self.coll.get([1003, 5])
        self.assertEqual([r.id for r in recs], [1003], "missing ids are left out")
        self.assertLess(max(abs(x - y) for x, y in zip(recs[0].vector, self.data[1003])), 1e-6)
        self.coll.upsert([9001, 9002], [[0.5] * self.dim, [0.25] * self.dim])
        self.assertEqual(self.coll.delete([9001, 9002, 5]), 2)
        self.assertEqual(self.coll.get([9001, 9002]), [])

    def test_labels_by_id_filter(self):
        self.coll.upsert([9100, 9101], [[3.0] * self.dim, [3.1] * self.dim], labels=[[7], [8]])
        hits = self.coll.search([3.0] * self.dim, k=5, filter="8")
        self.assertEqual([h.id for h in hits], [9101])
        self.coll.set_labels({9100: [8]})
        hits = self.coll.search([3.0] * self.dim, k=5, filter={"all_of": [8]})
        self.assertEqual(sorted(h.id for h in hits), [9100, 9101])
        self.coll.delete([9100, 9101])

    def test_errors_carry_codes(self):
        with self.assertRaises(InvalidArgumentError) as e:
            self.coll.search([1.0] * (self.dim + 1), k=1)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIsInstance(e.exception, ShoalError)
        self.assertIn("dim", e.exception.message)
        with self.assertRaises(InvalidArgumentError):
            self.coll.search([1.0] * self.dim, k=1, filter="7 AND (")
        with self.assertRaises(NotFoundError) as e:
            self.client.collection(self.name + "_nope").search([1.0] * self.dim, k=1)
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        with self.assertRaises(UnauthenticatedError):
            Client(ADDR).list_collections()
        with self.assertRaises(UnauthenticatedError):
            Client(ADDR, api_key="not-the-key-0123456789").list_collections()
        with self.assertRaises(ValueError):
            self.coll.upsert([1, 2], [[1.0] * self.dim])

    def test_tenants_and_keys(self):
        self.coll.create_tenant("acme")
        self.coll.create_tenant("other")
        self.assertEqual(self.coll.list_tenants(), ["acme", "other"])
        key = self.client.create_api_key(self.name, "acme")
        self.assertTrue(key.secret and key.id)
        self.assertIn(key.id, [k.id for k in self.client.list_api_keys()])
        with Client(ADDR, api_key=key.secret) as acme:
            self.assertEqual([c.name for c in acme.list_collections()], [self.name])
            mine = acme.collection(self.name)
            mine.upsert([1], [self.data[1000]])
            self.assertEqual([h.id for h in mine.search(self.data[1000], k=10)], [1], "a tenant sees only its own")
            with self.assertRaises(PermissionDeniedError):
                mine.delete([1000])
            with self.assertRaises(PermissionDeniedError):
                mine.search(self.data[1000], k=1, tenant="other")
            with self.assertRaises(PermissionDeniedError):
                acme.drop_collection(self.name)
            # A grant lets another tenant read it.
            self.coll.grant("other", [1])
            self.assertEqual([h.id for h in self.coll.search(self.data[1000], k=10, tenant="other")], [1])
            self.coll.revoke("other", [1])
            self.assertEqual(self.coll.search(self.data[1000], k=10, tenant="other"), [])
            self.assertEqual(mine.delete([1]), 1)
            self.client.revoke_api_key(key.id)
            with self.assertRaises(UnauthenticatedError):
                acme.list_collections()
        self.coll.delete_tenant("acme")
        self.coll.delete_tenant("other")

    def test_stats(self):
        st = self.coll.stats()
        self.assertEqual(st["collection"], self.name)
        self.assertGreaterEqual(st["vector_count"], self.n)
        srv = self.client.server_stats()
        self.assertGreaterEqual(srv["collections"], 1)
        self.assertIn(self.name, [c["collection"] for c in srv["collection_stats"]])

    def test_snapshot_and_restore(self):
        src = self.client.create_collection(unique("snapsrc"), dim=4)
        src.upsert([1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
        snap = self.client.create_snapshot(src.name, unique("snap"))
        self.assertEqual(snap.vectors, 3)
        restored = self.client.restore_snapshot(os.path.basename(snap.directory), unique("restored"))
        try:
            self.assertEqual(restored.info().vector_count, 3)
            self.assertEqual(restored.search([0, 1, 0, 0], k=1)[0].id, 2)
        finally:
            restored.drop()
            src.drop()


class QuantTests(unittest.TestCase):
    """A collection whose postings hold RaBitQ codes (issue 15)."""

    def setUp(self):
        if not ADMIN_KEY:
            raise unittest.SkipTest("SHOAL_ADMIN_KEY is not set")
        self.client = Client(ADDR, api_key=ADMIN_KEY)
        self.addCleanup(self.client.close)

    def test_quantized_collection_searches_exactly(self):
        dim = 16
        rng = random.Random(3)
        data = {i: [rng.gauss(0, 1) for _ in range(dim)] for i in range(400)}
        coll = self.client.create_collection(unique("quant"), dim=dim, quant="rabitq")
        try:
            self.assertEqual(coll.info().quant, "rabitq4", "rabitq gets the bits of the dimension")
            coll.upsert(list(data), list(data.values()))
            q = [x + 0.1 for x in data[7]]
            hits = coll.search(q, k=10, nprobe=64)
            self.assertEqual(hits[0].id, 7)
            for h in hits:
                exact = sum((a - b) ** 2 for a, b in zip(data[h.id], q))
                self.assertAlmostEqual(h.distance, exact, delta=1e-4 * max(1.0, exact))
            self.assertGreaterEqual(len(set(brute_force(data, q, 10)) & {h.id for h in hits}), 9)
        finally:
            coll.drop()

    def test_default_is_none_bad_quant_is_invalid(self):
        coll = self.client.create_collection(unique("dflt"), dim=4)
        try:
            self.assertEqual(coll.info().quant, "none")
        finally:
            coll.drop()
        coll = self.client.create_collection(unique("rows"), dim=4, quant="none")
        try:
            self.assertEqual(coll.info().quant, "none")
        finally:
            coll.drop()
        with self.assertRaises(InvalidArgumentError) as e:
            self.client.create_collection(unique("bad"), dim=4, quant="rabitq9")
        self.assertIn("config.quant", e.exception.message)

    def test_shards_need_cluster_mode(self):
        # A single-node server holds one copy of one shard.
        with self.assertRaises(InvalidArgumentError) as e:
            self.client.create_collection(unique("sharded"), dim=4, shards=3)
        self.assertIn("cluster", e.exception.message)


class PayloadTests(unittest.TestCase):
    """Payloads and label names (issue 18)."""

    @classmethod
    def setUpClass(cls):
        if not ADMIN_KEY:
            raise unittest.SkipTest("SHOAL_ADMIN_KEY is not set")
        cls.client = Client(ADDR, api_key=ADMIN_KEY)
        cls.coll = cls.client.create_collection(unique("pay"), dim=4)
        cls.coll.upsert(
            [1, 2, 3],
            [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
            payloads=[{"title": "a", "n": 1.5, "tags": ["x", "y"], "nested": {"ok": True}}, {"title": "b"}, None],
            labels=[["color=red"], ["color=blue"], []],
        )

    @classmethod
    def tearDownClass(cls):
        with contextlib.suppress(ShoalError):
            cls.coll.drop()
        cls.client.close()

    def test_payload_round_trip(self):
        hits = self.coll.search([1, 0, 0, 0], k=3, include_payload=True)
        by_id = {h.id: h.payload for h in hits}
        self.assertEqual(by_id[1], {"title": "a", "n": 1.5, "tags": ["x", "y"], "nested": {"ok": True}})
        self.assertEqual(by_id[2], {"title": "b"})
        self.assertIsNone(by_id[3])
        recs = self.coll.get([1, 2])
        self.assertEqual(recs[0].payload["title"], "a")
        self.assertEqual(recs[0].labels, ["color=red"])

    def test_set_payloads(self):
        self.assertEqual(self.coll.set_payloads({3: {"title": "c"}}), 1)
        self.assertEqual(self.coll.get([3])[0].payload, {"title": "c"})
        self.coll.set_payloads({3: None})
        self.assertIsNone(self.coll.get([3])[0].payload)

    def test_label_names(self):
        hits = self.coll.search([0, 1, 0, 0], k=3, filter="color=red")
        self.assertEqual([h.id for h in hits], [1])
        names = self.coll.list_labels()
        self.assertIn("color=red", names)
        self.assertIn("color=blue", names)
        self.coll.set_labels({3: ["color=green"]})
        self.assertEqual([h.id for h in self.coll.search([0, 0, 1, 0], k=3, filter="color=green")], [3])

    def test_oversize_payload_is_invalid_argument(self):
        with self.assertRaises(InvalidArgumentError) as e:
            self.coll.upsert([4], [[1, 1, 0, 0]], payloads=[{"blob": "x" * (128 << 10)}])
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.coll.get([4]), [], "nothing stored by a refused upsert")

    def test_payload_not_valid_json_is_invalid_argument(self):
        # NaN has no JSON form: the server refuses it and stores nothing.
        with self.assertRaises(InvalidArgumentError) as e:
            self.coll.upsert([5], [[1, 0, 1, 0]], payloads=[{"score": float("nan")}])
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(self.coll.get([5]), [], "nothing stored by a refused upsert")

    def test_unknown_label_name_in_filter_is_invalid_argument(self):
        with self.assertRaises(InvalidArgumentError) as e:
            self.coll.search([1, 0, 0, 0], k=1, filter="color=never-seen")
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)


def readme_python_example() -> str:
    """The first python block of README.md's "REST and Python" section."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("\n## REST and Python\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    if not m:
        raise AssertionError("README.md: no python block in REST and Python")
    return m.group(1)


class ReadmeExampleTest(unittest.TestCase):
    """Runs README.md's Python example against the server."""

    def test_readme_example(self):
        if not ADMIN_KEY:
            self.skipTest("SHOAL_ADMIN_KEY is not set")
        code = readme_python_example()
        self.assertLessEqual(len(code.strip().splitlines()), 10, "the README's example is at most 10 lines")
        self.assertIn('"localhost:7370"', code)
        code = code.replace('"localhost:7370"', repr(ADDR))
        name = re.search(r'create_collection\("([^"]+)"', code).group(1)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
        finally:
            with Client(ADDR, api_key=ADMIN_KEY) as c, contextlib.suppress(NotFoundError):
                c.drop_collection(name)
        printed = out.getvalue().strip()
        # The comment on the print line is what it prints.
        want = re.search(r"print\(.*\)\s*#\s*(.*)", code).group(1).strip()
        self.assertTrue(printed.startswith("1 0.02 "), "README example printed %r, want %r" % (printed, want))
        self.assertEqual(printed, want)


if __name__ == "__main__":
    print("shoal_client %s from %s against %s" % (shoal_client.__version__, shoal_client.__file__, ADDR))
    unittest.main(verbosity=2)
