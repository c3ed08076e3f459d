# One image for all three processes: web (default), worker and beat (override the command).
#   docker run IMAGE                                   -> gunicorn on :8000
#   docker run IMAGE celery -A config worker -l INFO   -> a worker (run as many as needed)
#   docker run IMAGE celery -A config beat -l INFO     -> exactly one beat
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VAR_DIR=/app/var \
    PORT=8000

WORKDIR /app
RUN useradd --create-home --uid 10001 invoice

COPY requirements-prod.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv pip sync --system --require-hashes requirements-prod.lock \
    && pip uninstall -y uv

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --no-input -v 0 \
    && mkdir -p /app/var && chown -R invoice /app/var

USER invoice
EXPOSE 8000
CMD ["sh", "-c", "gunicorn config.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --access-logfile -"]
