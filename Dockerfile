# kimiproxy: an OpenAI-compatible API for the Kimi web chat.
#   docker build -t kimiproxy . && docker run -p 8000:8000 -v kimiproxy-data:/data kimiproxy
# Several instances sharing a Redis: docker-compose.yml.
FROM python:3.11-slim

# The embedded SQLite state lives in /data, a volume the unprivileged user may write to (the
# default, ./.kimiproxy, would be under /app, which it may not).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 KIMIPROXY_BIND=0.0.0.0:8000 \
    KIMIPROXY_DATA_DIR=/data
WORKDIR /app
COPY setup.cfg pyproject.toml README.md gunicorn.conf.py ./
COPY kimiproxy ./kimiproxy
COPY plugins ./plugins
COPY conformance ./conformance
RUN pip install --no-cache-dir . && useradd --system --no-create-home kimiproxy \
    && mkdir /data && chown kimiproxy:kimiproxy /data
VOLUME /data
USER kimiproxy
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ping')"
CMD ["kimiproxy", "serve"]
