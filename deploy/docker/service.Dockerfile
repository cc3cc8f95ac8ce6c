# The one Dockerfile of every service in services.toml: `make generate` writes
# services/<svc>/Dockerfile from it (@name@, @NAME@, @port@ replaced; decision 0075).
# Edit this file, not the copies; shared/tests/test_platform.py fails when they differ.
# The @name@ image: one image, two roles chosen by the first argument --
#   api     (default) migrate, then gunicorn -c python:flotilla.gunicorn_conf '@name@:create_app()'
#   worker  migrate, then @name@-worker (event consumer + outbox relay)
# Build from the repository root (the context holds shared/ and requirements/):
#   docker build -f services/@name@/Dockerfile -t flotilla/@name@ .
# BASE_IMAGE may also be a bare Debian bookworm image (e.g. made with debootstrap):
# Debian's python3 is then installed. See docs/decisions/0060-deploy-images-compose-k8s.md.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN if ! command -v python3 >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends python3 \
      && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*; \
    fi

FROM python AS build
# A CA bundle for pip when the build goes through a TLS-inspecting proxy (mount it with
# `podman build -v host.crt:/path:ro --build-arg PIP_CA_BUNDLE=/path`); unset: pip's default.
ARG PIP_CA_BUNDLE
RUN if ! python3 -c 'import ensurepip' 2>/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends python3-venv \
      && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*; \
    fi \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Third-party dependencies first, in their own layer: rebuilt only when a pin or a
# component's dependency list changes, not on every code change. setuptools too, so the
# in-place install below needs no isolated (downloaded) build environment.
COPY requirements/constraints.txt requirements/
COPY deploy/docker/component_deps.py deploy/docker/
COPY shared/pyproject.toml shared/
COPY services/@name@/pyproject.toml services/@name@/
RUN python deploy/docker/component_deps.py shared services/@name@ > /tmp/requirements.txt \
 && if [ -n "${PIP_CA_BUNDLE:-}" ]; then export PIP_CERT="$PIP_CA_BUNDLE"; fi \
 && pip install -c requirements/constraints.txt -r /tmp/requirements.txt "setuptools>=69"
COPY shared shared
COPY services/@name@ services/@name@
# Installed in place: the kit and the service find migrations/ and contracts/ beside their code.
RUN if [ -n "${PIP_CA_BUNDLE:-}" ]; then export PIP_CERT="$PIP_CA_BUNDLE"; fi \
 && pip install -c requirements/constraints.txt --no-deps --no-build-isolation -e shared -e services/@name@

FROM python
RUN groupadd --system --gid 10001 flotilla \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin flotilla
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
COPY deploy/docker/entrypoint.sh /usr/local/bin/flotilla-entrypoint
COPY deploy/docker/healthcheck.py /usr/local/bin/flotilla-healthcheck
# var/ holds the SQLite default database; in production @NAME@_DATABASE_URL points elsewhere.
RUN mkdir -p /app/var && chown 10001:10001 /app/var
ENV PATH=/opt/venv/bin:$PATH \
    FLOTILLA_SERVICE=@name@ \
    HOST=0.0.0.0 \
    PORT=@port@ \
    WORKER_HOST=0.0.0.0 \
    WORKER_PORT=9000
WORKDIR /app
USER 10001:10001
EXPOSE @port@ 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "/usr/local/bin/flotilla-healthcheck"]
ENTRYPOINT ["flotilla-entrypoint"]
CMD ["api"]
