# optinface: the API server, its pages and its CLI in one slim image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OPTINFACE_DATA_DIR=/data \
    OPTINFACE_KEY_DIR=/keys \
    OPTINFACE_AUDIT_WITNESS_DIR=/witness \
    OPTINFACE_FIRST_ADMIN_KEY_FILE=/keys/first-admin-key \
    OPENBLAS_NUM_THREADS=1

# The wheel installs one package, optinface, with the model manifest and calibrated thresholds
# inside it; src/optinface links to the top-level folders, so they are copied beside it.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY engine ./engine
COPY consent ./consent
COPY api ./api
COPY models ./models
# `optinface models` exits non-zero, failing the build, when a model file is missing or its
# SHA-256 differs from the manifest: an image never ships unverified weights.
RUN pip install . \
    && optinface models \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin optinface \
    && mkdir -p /data /keys /witness \
    && chown 10001 /data /keys /witness \
    && chmod 700 /data /keys
USER 10001

# Three volumes, meant for three mounts: a copy of /data must carry neither its keys nor the
# witness that checks it (docs/keys-and-backups.md).
VOLUME ["/data", "/keys", "/witness"]
# The relying parties' port, where OPTINFACE_TLS_CLIENT_PORT sets one, is published by the
# operator (it has no default).
EXPOSE 8000

# Over HTTPS where serve speaks it (OPTINFACE_TLS_CERT), without verifying the certificate:
# it names the public host, not 127.0.0.1, and nothing stands between on loopback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, ssl, urllib.request; tls = bool(os.environ.get('OPTINFACE_TLS_CERT')); urllib.request.urlopen(('https' if tls else 'http') + '://127.0.0.1:8000/healthz', timeout=4, context=ssl._create_unverified_context() if tls else None)"]

ENTRYPOINT ["optinface"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
