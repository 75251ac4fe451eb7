# One image for web and workers; the command decides the role (see docker-compose.yml).
FROM node:20-bookworm-slim AS frontend
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./
RUN npm run build

FROM python:3.11-slim-bookworm
# Uploads spool to /data/tmp, a folder of their own the reconcile sweep keeps clean.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production ANNOTATOR_UPLOAD_TEMP_DIR=/data/tmp
# tcmalloc: with glibc's malloc the SAM image encoder ran 2.2x slower on CPU, and batches of several images
# 3x slower (bench/sam_embedding.py); every process here preloads it.
RUN apt-get update && apt-get install -y --no-install-recommends libtcmalloc-minimal4 \
    && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
WORKDIR /app
COPY pyproject.toml README.md ./
COPY annotator ./annotator
COPY labeling ./labeling
COPY workers ./workers
COPY manage.py ./
COPY --from=frontend /frontend/dist ./frontend/dist
RUN pip install --no-cache-dir -e . \
    && DJANGO_SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --create-home --uid 1000 annotator && mkdir -p /data/media /data/tmp \
    && chown annotator /data/media /data/tmp
USER annotator
EXPOSE 8000
CMD ["gunicorn", "annotator.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--worker-class", "gthread", "--timeout", "120"]
