# Redis for the compose stack, from Debian's redis-server (7.0), for machines with no container
# registry. Where one is reachable the official image (redis:7) does the same job: the compose
# file runs `redis-server /etc/boussole/redis.conf` either way. Configuration (durability,
# memory policy) is mounted from deploy/compose/redis.conf, the password from a secret.
FROM debian:bookworm-slim
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && mkdir -p /data && chown redis:redis /data && chmod 0750 /data
VOLUME /data
WORKDIR /data
EXPOSE 6379
USER redis
ENTRYPOINT []
CMD ["redis-server", "--dir", "/data", "--appendonly", "yes"]
