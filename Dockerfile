# herd: one server of a herd per container. Build: docker build -t herd .
# Run: docker run --network host -e HERD_SECRET=... herd --config /etc/herd/herd.toml --name Ball

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ meson ninja-build pkg-config \
      libuv1-dev libcurl4-openssl-dev libsimdjson-dev libspdlog-dev libtomlplusplus-dev libssl-dev libnats-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY meson.build meson_options.txt ./
COPY subprojects subprojects
COPY src src
COPY tools/meson.build tools/meson.build
COPY tools/loadgen tools/loadgen
COPY tools/places-stub tools/places-stub
RUN meson setup /build --buildtype=release -Dtests=false -Ddata_path=/usr/share/herd/places.tsv \
      --wrap-mode=nodownload \
 && ninja -C /build src/herd \
 && strip /build/src/herd

FROM debian:bookworm-slim
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Runtime libraries only; no documentation, no package caches. (chmod: a locally
# debootstrapped base can have a root directory that only root may enter.)
RUN chmod 755 / \
 && printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
      > /etc/dpkg/dpkg.cfg.d/01-herd-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libcurl4 libsimdjson14 libspdlog1.10 libfmt9 libssl3 libtomlplusplus3 libnats3.4 \
      ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin herd \
 && install -d -o herd -g herd /var/log/herd
COPY --from=build /build/src/herd /usr/local/bin/herd
COPY data/places.tsv /usr/share/herd/places.tsv
COPY deploy/herd.toml deploy/herd-tls.toml deploy/herd-nats.toml /etc/herd/
USER herd
# Asks the server's own admin listener (set HERD_ADMIN to this container's admin address).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/bin/sh", "-c", "exec /usr/local/bin/herd --health \"${HERD_ADMIN:-127.0.0.1:9100}\""]
ENTRYPOINT ["/usr/local/bin/herd"]
CMD ["--help"]
