# One image, either service by command:
#   docker run IMAGE                                   -> the AMCI proxy (embedded Stripe test mode)
#   docker run IMAGE billing-client serve --host 0.0.0.0 --amci http://amci:8080
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8080/healthz

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin amci
WORKDIR /app

COPY pyproject.toml README.md ./
COPY amci ./amci
COPY billing_client ./billing_client
COPY httpkit ./httpkit
RUN pip install ".[speed]"
COPY config ./config
RUN mkdir -p /app/var && chown amci:amci /app/var

USER amci
EXPOSE 8080 8090
# Each service sets HEALTHCHECK_URL to its own /healthz (the compose file does for the billing client).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=2)"]
CMD ["amci", "serve", "--config", "config/amci.yaml", "--host", "0.0.0.0", "--port", "8080"]
