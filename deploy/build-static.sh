#!/bin/sh
# Builds the static, CPU-only shoal binary the Docker image ships (the
# build stage of ../Dockerfile runs this; so does .ci/run, which checks
# that the result is static and runs).
#   deploy/build-static.sh OUT
set -eu
out=${1:?usage: deploy/build-static.sh OUT}
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out" ./tools/shoal
