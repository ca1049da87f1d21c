# gridcase's api and worker image. The servers come from docker-compose, so no embedded extras.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY core ./core
COPY db ./db
COPY api ./api
COPY worker ./worker
COPY config ./config
RUN pip install . && useradd --system --uid 10001 gridcase

USER gridcase
ENV GRIDCASE_CONFIG_DIR=/app/config
EXPOSE 8000
CMD ["gridcase", "api"]
