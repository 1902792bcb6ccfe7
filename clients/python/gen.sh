#!/bin/sh
# Regenerates the committed stubs of shoal_client._pb from
# proto/shoal/v1/shoal.proto (run from anywhere; needs Debian 12's
# protobuf-compiler 3.21.12 and python3-grpc-tools 1.14.1):
#   - shoal_pb2.py and shoal_pb2.pyi with protoc 3.21.12: its code works
#     with the protobuf runtime 3.20 and later (Debian's 3.21.12, PyPI's
#     4.x); python3-grpc-tools 1.14.1 bundles protoc 3.5.1, whose
#     messages the upb runtime of PyPI's protobuf >= 4.21 refuses;
#   - shoal_pb2_grpc.py with python3-grpc-tools' gRPC plugin, its import
#     of shoal_pb2 made relative to the package.
# With -check, compares instead of writing (CI: the stubs match the proto).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$here/src/shoal_client/_pb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc -I "$repo/proto" --python_out="$tmp" --pyi_out="$tmp" "$repo/proto/shoal/v1/shoal.proto"
/usr/bin/python3 -m grpc_tools.protoc -I "$repo/proto" --grpc_python_out="$tmp" "$repo/proto/shoal/v1/shoal.proto"
sed -i 's/^from shoal\.v1 import shoal_pb2 as/from . import shoal_pb2 as/' "$tmp/shoal/v1/shoal_pb2_grpc.py"
if [ "${1:-}" = "-check" ]; then
	for f in shoal_pb2.py shoal_pb2.pyi shoal_pb2_grpc.py; do
		cmp -s "$tmp/shoal/v1/$f" "$out/$f" || { echo "clients/python: $f is stale: run clients/python/gen.sh" >&2; exit 1; }
	done
	exit 0
fi
cp "$tmp/shoal/v1/shoal_pb2.py" "$tmp/shoal/v1/shoal_pb2.pyi" "$tmp/shoal/v1/shoal_pb2_grpc.py" "$out/"
