# syntax=docker/dockerfile:1
# Opsdesk production image: gunicorn for the web, the same image runs the Celery worker and beat.
#   docker build -t opsdesk .
# See docker-compose.yml and docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    OPSDESK_ENV=production \
    OPSDESK_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

RUN groupadd --system --gid 10001 opsdesk \
    && useradd --system --uid 10001 --gid opsdesk --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin opsdesk

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# The code runs from /app (PYTHONPATH): templates, static files and translations live beside it.
RUN pip install --no-deps .

# Static files are collected at build time with the production storage (hashed names and the
# manifest WhiteNoise needs). Settings need these values to import; none of them is used.
RUN OPSDESK_VAR_DIR=/tmp/build-var \
    SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    ALLOWED_HOSTS=build.invalid \
    python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build-var /tmp/build.sqlite3 \
    && mkdir -p /app/var /app/media \
    && chown opsdesk:opsdesk /app/var /app/media

USER opsdesk
# /app/var (beat schedule) and /app/media (attachments) are volumes in docker-compose.yml.
EXPOSE 8000

# Workers: WEB_CONCURRENCY (gunicorn's own variable); more flags: GUNICORN_CMD_ARGS.
CMD ["gunicorn", "opsdesk.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", \
     "--forwarded-allow-ips", "*", "--timeout", "60"]
