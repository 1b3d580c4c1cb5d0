FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
COPY seeds ./seeds
RUN pip install -e . \
    && useradd --system --no-create-home registry
ENV REGISTRY_MIGRATIONS_DIR=/app/migrations REGISTRY_SEEDS_DIR=/app/seeds

USER registry
EXPOSE 8000
# Migrations run under an advisory lock, so several replicas may start at once.
CMD ["sh", "-c", "registry migrate && exec registry serve --host 0.0.0.0 --port 8000 --workers ${REGISTRY_WORKERS:-2}"]
