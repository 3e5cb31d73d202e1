# syntax=docker/dockerfile:1
# blaxel-operator image: the project wheel, built from this source tree and installed into a
# virtualenv, on a slim Python base; runs as the unprivileged user 65532.
#   docker build -t blaxel-operator:0.1.0 .
# The base is pinned to an exact Python patch release; pin its digest too in your registry mirror.

FROM python:3.11.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY .ci/constraints.txt ./constraints.txt
COPY operator/ operator/
# The same exact dependency versions that `make test` proves (constraints.txt).
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /dist . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt /dist/blaxel_operator-*.whl

FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="blaxel-operator" \
      org.opencontainers.image.description="Kubernetes operator that manages Blaxel AI agents from BlaxelAgent resources" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 nonroot \
    && useradd --system --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home \
       --shell /usr/sbin/nologin nonroot
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /home/nonroot
# 8080: /metrics and /readyz; 8081: /healthz
EXPOSE 8080 8081
ENTRYPOINT ["blaxel-operator"]
CMD ["run", "--all-namespaces"]
