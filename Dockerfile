# gridcase's api and worker image (docker-compose.yml). PostgreSQL and Temporal come from compose,
# so the package is installed without the `embedded`/`dev` extras.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRIDCASE_CONFIG_DIR=/app/config

WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY core ./core
COPY db ./db
COPY api ./api
COPY worker ./worker
RUN pip install --no-cache-dir . && rm -rf build *.egg-info

# Reference data read at run time from GRIDCASE_CONFIG_DIR (not part of the installed package).
COPY config ./config

RUN useradd --system --uid 10001 --no-create-home gridcase
USER gridcase

EXPOSE 8000
CMD ["gridcase", "api"]
