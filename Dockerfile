# syntax=docker/dockerfile:1
# quota-watch: the daemon in a container, for amd64 and arm64 alike (Oracle Cloud Always Free:
# the AMD micro shape or the Ampere A1). Build and run (docs/install.md has the details):
#
#   docker build -t quota-watch .
#   docker run -d --name quota-watch --restart unless-stopped --stop-timeout 40 \
#     -p 127.0.0.1:9877:9877 -v quota-watch-data:/var/lib/quota-watch \
#     -v /etc/quota-watch/config.toml:/etc/quota-watch/config.toml:ro quota-watch
#
# Without a config file the daemon runs its embedded default (the host collector, which then
# sees the container, not the VM). tests/deploy/test_deploy.py runs this file's scripts, entrypoint and
# health check on the test machine.

ARG PYTHON_VERSION=3.11

# --- build: wheels of quota-watch and of every dependency ---------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
# .dockerignore lets through only what the wheel is built from (and deploy/).
COPY . /src
RUN sh /src/deploy/build-wheels.sh /src /wheels

# --- runtime ------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim
# The wheels are bind-mounted, not copied, so that they take no room in the image.
RUN --mount=type=bind,from=build,source=/wheels,target=/tmp/wheels \
    --mount=type=bind,source=deploy,target=/tmp/deploy \
    sh /tmp/deploy/install-wheel.sh /tmp/wheels /opt/quota-watch
COPY deploy/healthcheck.py /opt/quota-watch/healthcheck.py
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/quota-watch \
        --shell /usr/sbin/nologin quota-watch \
    && install -d -o quota-watch -g quota-watch -m 0750 /var/lib/quota-watch \
    && install -d -m 0755 /etc/quota-watch

# XDG_CONFIG_HOME=/etc makes /etc/quota-watch/config.toml the config file, and XDG_DATA_HOME
# puts the default SQLite store at /var/lib/quota-watch/quota-watch.db, in the volume; a
# [store] url in the config file still wins. Listening on all interfaces is right inside a
# container only: publish the port on the host's loopback (-p 127.0.0.1:9877:9877) or behind
# a proxy with authentication. Override with -e QUOTA_WATCH_SERVER__LISTEN=...
ENV PATH=/opt/quota-watch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CONFIG_HOME=/etc \
    XDG_DATA_HOME=/var/lib \
    QUOTA_WATCH_SERVER__LISTEN=0.0.0.0:9877

USER 10001:10001
WORKDIR /var/lib/quota-watch
VOLUME /var/lib/quota-watch
EXPOSE 9877
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/opt/quota-watch/bin/python", "/opt/quota-watch/healthcheck.py"]
ENTRYPOINT ["/opt/quota-watch/bin/quota-watch"]
CMD ["run"]
