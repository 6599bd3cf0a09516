# One image for every role: `serve` (default), `api`, `worker` or `migrate`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin phantomwatch
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY migrations ./migrations
COPY service ./service
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PHANTOMWATCH_HOST=0.0.0.0 \
    PHANTOMWATCH_DATABASE_URL=sqlite:////app/data/phantomwatch.db
RUN mkdir -p /app/data && chown phantomwatch /app/data
USER phantomwatch
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz'); sys.exit(0)"
ENTRYPOINT ["python", "-m", "service"]
CMD ["serve"]
