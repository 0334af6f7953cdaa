# syntax=docker/dockerfile:1
#
# The sagemaker-guard image: the release binary on a distroless base, run as uid 65532.
#
#   docker build -t sagemaker-guard:0.1.0 .
#   docker run --rm sagemaker-guard:0.1.0 controls
#
# Base images are pinned by tag. To pin by digest as well (reproducible, immune to a re-pushed
# tag), resolve each tag once and write it as TAG@DIGEST, for example:
#
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot   # prints the Digest
#   FROM gcr.io/distroless/cc-debian12:nonroot@sha256:<digest>
#
# and let a bot (Renovate, Dependabot) keep the digests current.

# The build stage: the same Debian release (bookworm, glibc 2.36) as the runtime image, so the
# binary's glibc symbols are all there at run time. Its Rust is at least the crate's rust-version.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Only what `cargo build` reads (.dockerignore keeps everything else out of the context).
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
# --locked: exactly the dependency versions of Cargo.lock, or fail. The caches keep the registry
# and the target directory between builds (BuildKit); the binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sagemaker-guard \
    && install -D -m 0755 target/release/sagemaker-guard /out/sagemaker-guard

# The runtime: distroless "cc" rather than "static" or scratch, for three reasons.
# - The binary is linked dynamically against glibc (and libgcc_s for unwinding); aws-lc-rs, the
#   AWS SDK's TLS crypto, is C built for glibc. cc-debian12 has exactly glibc, libgcc and libssl.
# - TLS roots: the SDK's HTTPS client (aws-smithy-http-client with hyper-rustls) trusts the
#   system's roots through rustls-native-certs, which reads /etc/ssl/certs/ca-certificates.crt;
#   the distroless images carry Debian's ca-certificates there (scratch has none).
# - :nonroot runs as uid/gid 65532 by default and has /etc/passwd for it; no shell, no package
#   manager. The Kubernetes probes are HTTP, so the image needs no HEALTHCHECK (and has no curl).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/sagemaker-guard /usr/local/bin/sagemaker-guard
# The shipped policies, for a first `audit` without mounting anything.
COPY policies/ /usr/share/sagemaker-guard/policies/
USER 65532:65532
# /healthz, /readyz and /metrics (run's --listen default, 0.0.0.0:9464).
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/sagemaker-guard"]
CMD ["run"]
