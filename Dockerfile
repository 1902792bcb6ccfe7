# syntax=docker/dockerfile:1
#
# Shoal server image: a static shoal binary (CPU only: the GPU path needs
# cgo and libcuda, see docs/gpu.md) on a distroless base, run as a
# non-root user, with its data in the /data volume.
#
#   docker build -t shoal .
#   docker run -d -p 7370:7370 -p 9370:9370 -v shoal-data:/data \
#       -e SHOAL_ADMIN_KEY=$(openssl rand -hex 16) shoal
#
# gRPC and REST share port 7370; Prometheus metrics are on 9370. The
# server refuses to listen on a non-loopback address without an admin
# key: pass SHOAL_ADMIN_KEY (or -no-auth to serve anyone, not advised).
# .ci/run builds the binary with the same command as the build stage.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The script CI runs too. VERSION names the build in `shoal version`
# (the context has no .git): docker build --build-arg VERSION=$(git describe --always) .
ARG VERSION=unknown
RUN SHOAL_VERSION="$VERSION" ./deploy/build-static.sh /out/shoal \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shoal /usr/local/bin/shoal
# An empty /data owned by the image's non-root user (65532), for the
# volume to inherit.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 7370 9370
# The gRPC health service needs no API key.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/shoal", "client", "health", "-addr", "127.0.0.1:7370"]
ENTRYPOINT ["/usr/local/bin/shoal"]
CMD ["serve", "-listen", "0.0.0.0:7370", "-data-dir", "/data", "-metrics-listen", "0.0.0.0:9370"]
