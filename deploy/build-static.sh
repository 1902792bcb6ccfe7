#!/bin/sh
# Builds the static, CPU-only shoal binary the Docker image ships (the
# build stage of ../Dockerfile runs this; so does .ci/run, which checks
# that the result is static and runs).
#   deploy/build-static.sh OUT
# SHOAL_VERSION names the build in `shoal version` (default: git describe
# of the checkout, when there is one; the Docker build passes its VERSION
# argument).
set -eu
out=${1:?usage: deploy/build-static.sh OUT}
cd "$(dirname "$0")/.."
version=${SHOAL_VERSION:-$(git describe --always --dirty 2>/dev/null || true)}
CGO_ENABLED=0 go build -trimpath \
	-ldflags="-s -w -X github.com/shoaldb/shoal/tools/internal/clikit.Version=$version" \
	-o "$out" ./tools/shoal
