# One image for the ticketflow worker, the webhook bridge and `ticketflow setup`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json
WORKDIR /app
RUN useradd --create-home --uid 10001 ticketflow

COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY models ./models
COPY starter ./starter
COPY client ./client
COPY console ./console
COPY dryrun ./dryrun
COPY infra ./infra
COPY sandbox ./sandbox
COPY engine ./engine
COPY worker.py ./
COPY policies ./policies
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && chown -R ticketflow /app

USER ticketflow
# The bridge listens here; the worker needs no port.
EXPOSE 8080
CMD ["ticketflow", "worker"]
