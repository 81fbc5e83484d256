# The `cepheus` binary with the bundled rule packs. Used by docker-compose.yml (`cepheus`
# service); `docker build -t cepheus .` builds it alone.
#
# librdkafka is compiled from the rdkafka crate's bundled sources (configure + make), so the
# build stage needs a C toolchain, cmake-free; the runtime stage needs only the C libraries the
# binary links (libssl for librdkafka's TLS, libsasl2 for SASL, zlib/zstd/lz4 are built in).

FROM rust:1.88-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev \
       libsasl2-dev python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p cepheus-engine \
    && cp target/release/cepheus /usr/local/bin/cepheus

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 libsasl2-2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /cepheus cepheus
COPY --from=build /usr/local/bin/cepheus /usr/local/bin/cepheus
COPY rules /cepheus/rules
COPY cepheus.example.yaml /cepheus/cepheus.example.yaml
WORKDIR /cepheus
USER cepheus
# The configuration comes from CEPHEUS_* variables (docker-compose.yml sets them) or a mounted
# /cepheus/cepheus.yaml.
ENTRYPOINT ["cepheus"]
CMD ["run", "--rules", "rules"]
