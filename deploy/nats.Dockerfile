# Debian's nats-server for the compose profile "nats" (no registry image needed).
# Build: docker build --network host -f deploy/nats.Dockerfile -t herd-nats .
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["/usr/sbin/nats-server"]
