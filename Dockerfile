# syntax=docker/dockerfile:1
# The Interact server as a container image (README, "Run in a container"):
#   docker build -t interact .
#   docker run -d -p 8080:8080 -e INTERACT_ADMIN_TOKEN=<token> \
#     -e INTERACT_PUBLIC_URL=https://chat.example.com -v interact-data:/var/lib/interact interact
# Configured by INTERACT_* environment variables alone (or a file: --config, or
# INTERACT_CONFIG); the SQLite database in the volume /var/lib/interact.

# The builder: the toolchain of rust-toolchain.toml with the wasm32 target, wasm-bindgen-cli
# at the version the workspace pins, binaryen (wasm-opt); then `cargo xtask dist`: the wasm
# packages, then the server (release, stripped, the pages built in).
FROM rust:1.95.0-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends binaryen pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# A layer of its own, built again only when the pin changes.
COPY rust-toolchain.toml Cargo.toml ./
RUN rustup target add wasm32-unknown-unknown \
    && version="$(sed -n 's/^wasm-bindgen = "=\([^"]*\)".*/\1/p' Cargo.toml)" \
    && test -n "$version" \
    && cargo install wasm-bindgen-cli --version "$version" \
    && rm -rf "$CARGO_HOME/registry"
COPY . .
RUN cargo xtask dist \
    && mkdir /out \
    && tar -xzf target/dist/interact-*.tar.gz -C /out --strip-components=1

# The runtime: Debian slim (the glibc the binary was linked against), curl for the health
# check, a user of its own; nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 interact \
    && useradd --system --uid 10001 --gid interact --home-dir /var/lib/interact \
        --shell /usr/sbin/nologin interact \
    && install -d -o interact -g interact -m 0750 /var/lib/interact
COPY --from=builder /out/interact-server /usr/local/bin/interact-server
COPY --from=builder /out/config/interact.example.toml /etc/interact/interact.example.toml
COPY --from=builder /out/README.md /usr/share/doc/interact/README.md
# Every setting has its variable (README, "Configuration"); the required ones but the
# admin token have defaults here. INTERACT_ADMIN_TOKEN (or INTERACT_ADMIN_TOKEN_FILE, a
# mounted secret) must be given; INTERACT_PUBLIC_URL is the URL browsers use.
ENV INTERACT_LISTEN=0.0.0.0:8080 \
    INTERACT_PUBLIC_URL=http://localhost:8080 \
    INTERACT_DATABASE_URL=sqlite:/var/lib/interact/interact.db
USER 10001:10001
WORKDIR /var/lib/interact
VOLUME ["/var/lib/interact"]
EXPOSE 8080
# /healthz on the port of INTERACT_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${INTERACT_LISTEN##*:}/healthz" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/interact-server"]
CMD ["serve"]
