# gpt-server with the bundled Shakespeare model.
#
#   docker build -t gpt-server .
#   docker run -p 8080:8080 gpt-server
#
# Two stages: the official Swift image builds release binaries; a Debian slim
# image runs them with only the C libraries they link against.

# ---------------------------------------------------------------- build ----
# The project is developed with Swift 6.3; this stage uses the official
# swift:6.2-bookworm image (swift-prometheus needs tools 6.2) (Debian 12, the same release as the runtime stage,
# so the libopenblas/libmicrohttpd versions match). Change the tag to build
# with a newer toolchain.
FROM swift:6.2-bookworm AS build

# Package versions are not pinned: Debian's archive drops a version when a
# security update replaces it, so pins would break the build; the base image
# tag fixes the release.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends libopenblas-dev libmicrohttpd-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# The manifest first, so that fetching dependencies is a cached layer that is
# redone only when Package.swift (or Package.resolved) changes. Package.resolved
# is not committed; the wildcard lets this COPY succeed without it.
COPY Package.swift Package.resolved* ./
RUN swift package resolve

# Tests/ too: SwiftPM checks every target's folder when it loads the package,
# even for a build of one product.
COPY Sources ./Sources
COPY Tests ./Tests

# --static-swift-stdlib links the Swift runtime, Foundation and Dispatch into
# the executables, so the runtime stage needs no Swift libraries at all (the
# alternative, copying /usr/lib/swift/linux/*.so, is more to get right).
# On x86-64 Package.swift compiles the kernels for haswell (AVX2 + FMA), not
# for the build machine's CPU, so the image runs on any modern x86-64 server.
RUN swift build -c release --static-swift-stdlib --product gpt-server \
    && swift build -c release --static-swift-stdlib --product generate \
    && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && mkdir -p /staging/bin \
    && cp "$bin/gpt-server" "$bin/generate" /staging/bin/

# -------------------------------------------------------------- runtime ----
FROM debian:bookworm-slim

# Runtime libraries only: OpenBLAS (pthread build), libmicrohttpd, CA
# certificates; curl for the health check below. The user and group get fixed
# ids (10001) so that Kubernetes (runAsNonRoot, runAsUser) can check them.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
         libopenblas0-pthread libmicrohttpd12 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 gpt \
    && useradd --system --uid 10001 --gid gpt --no-create-home --shell /usr/sbin/nologin gpt

# The server reads config/server.json and models/shakespeare/ relative to its
# working directory (it also finds the model by walking up from
# /app/bin/gpt-server). Everything stays owned by root: the server only reads.
WORKDIR /app
COPY --from=build /staging/bin/ /app/bin/
COPY models/shakespeare/ /app/models/shakespeare/
COPY config/server.json /app/config/server.json

# config/server.json listens on 127.0.0.1, which is unreachable from outside
# a container; environment variables override the config file.
ENV GPT_SERVER_HOST=0.0.0.0
EXPOSE 8080

# /health answers 200 once the model is loaded (503 while loading).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["sh", "-c", "curl --fail --silent --show-error --max-time 4 -o /dev/null http://127.0.0.1:${GPT_SERVER_PORT:-8080}/health"]

# Numeric, so that runtimes can tell it is not root without reading /etc/passwd.
USER 10001:10001
# SIGTERM (docker stop) drains running streams for up to
# drain_timeout_seconds (default 30), then exits 0; docker stop's default
# grace period is 10 s, so use `docker stop -t 35` to let long streams finish.
ENTRYPOINT ["/app/bin/gpt-server"]
