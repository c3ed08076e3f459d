# One image for all three processes: web (default), worker and beat (override the command).
# It holds no secret: SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS come from the environment at
# run time, and every process refuses to start without them (REQUIRE_ENV_SECRETS, see README).
#   docker run IMAGE                                   -> gunicorn on :8000
#   docker run IMAGE celery -A config worker -l INFO   -> a worker (run as many as needed)
#   docker run IMAGE celery -A config beat -l INFO     -> exactly one beat
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VAR_DIR=/app/var \
    REQUIRE_ENV_SECRETS=1 \
    PORT=8000

WORKDIR /app
# Fonts for the scripts the vendored DejaVu Sans lacks (scripts/ensure-fonts names each and its licence).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-core fonts-droid-fallback fonts-ipafont-gothic fonts-nanum \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 invoice

COPY requirements-prod.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv pip sync --system --require-hashes requirements-prod.lock \
    && pip uninstall -y uv

COPY . .
# collectstatic loads the settings, which want keys: throwaway random ones that live only in
# this RUN's environment (generated inside the step, so neither the image nor its history has them).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    CREDENTIALS_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --no-input -v 0 \
    && mkdir -p /app/var && chown -R invoice /app/var

USER invoice
EXPOSE 8000
CMD ["sh", "-c", "gunicorn config.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --access-logfile -"]
