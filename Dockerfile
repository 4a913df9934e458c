# One image for the four services: `python -m services.<name>` picks which one runs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8 \
    && useradd --system --uid 10001 --no-create-home station

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY shared ./shared
# the topics job (python -m infra.acls, python -m infra.topics) and the development SMS
# gateway and mail sink (python -m infra.dev_sinks) need only these of the local tooling
COPY infra/__init__.py infra/acls.py infra/credentials.py infra/kafka.py infra/topics.py \
     infra/dev_sinks.py ./infra/
COPY services ./services

USER station
CMD ["python", "-m", "services.notifier"]
