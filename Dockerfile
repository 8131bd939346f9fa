# Parley's image: the web client built with Node, the Python dependencies installed into a
# virtualenv, and a slim runtime that holds only the two, the source and the migrations, and
# runs as an unprivileged user. No Docker engine runs where this file is written: `make lint`
# checks it with hadolint; tests/deploy/ runs its HEALTHCHECK against a real server and
# parses its CMD with Parley's own CLI (docs/deployment.md, Container image).
#
#   docker build -t parley .
#   docker run -p 8000:8000 parley          # embedded mode: SQLite in /var/lib/parley
#
# Production settings come from the environment (README, Configuration; deploy/compose.yaml
# and deploy/k8s/ for several instances on PostgreSQL and Redis).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- the web client (web/dist)
FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
# The lock first: `npm ci` is cached until package-lock.json changes.
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
# Type check, Vite build and the first-load size check, as `make install` does.
RUN npm run build

# ---------------------------------------------------------------- Python dependencies
FROM ${PYTHON_IMAGE} AS python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY requirements.lock pyproject.toml README.md alembic.ini ./
COPY parley/ parley/
COPY migrations/ migrations/
# The runtime dependencies of pyproject.toml at the versions of requirements.lock (the lock
# also pins the dev tools, which a constraint file leaves out). Editable: `parley migrate`
# finds alembic.ini and migrations/ beside the package, so the source stays in /app.
RUN pip install --constraint requirements.lock --editable . \
    && python -m compileall -q parley migrations

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="Parley" \
      org.opencontainers.image.description="Messaging backend: REST + Socket.IO" \
      org.opencontainers.image.licenses="MIT"
# A fixed uid/gid, so Kubernetes' runAsUser and volume ownership can name them.
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --home-dir /app --shell /usr/sbin/nologin parley \
    && install -d -o parley -g parley -m 0700 /var/lib/parley
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PARLEY_DATA_DIR=/var/lib/parley \
    WEB_DIST_DIR=/app/web/dist
COPY --from=python /opt/venv /opt/venv
COPY --from=python /app /app
COPY --from=web /src/web/dist /app/web/dist
WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/parley"]
EXPOSE 8000
# /health answers 200 when the database (and Redis, when configured) answer, 503 otherwise.
# Python's urllib: the slim image has no curl; an HTTP error or a refused connection exits 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
# Applies pending migrations, then serves (under PostgreSQL's advisory lock, so instances
# starting together migrate one after the other); several instances: `--no-migrate` and a
# separate `parley migrate` (deploy/compose.yaml, deploy/k8s/).
CMD ["parley", "serve", "--host", "0.0.0.0", "--port", "8000"]
