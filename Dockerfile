# syntax=docker/dockerfile:1
# One image for the ticketflow worker, the webhook bridge and `ticketflow setup`.
#
# The image holds the installed package and nothing else of the source tree:
# the build stage turns the tree into a wheel (pyproject.toml decides what goes
# in: every package, the console's templates and static files, the policy
# packs, the SQL migrations) and installs it with its pinned dependencies into
# a virtual environment; the runtime stage gets only that environment. No list
# of folders to keep in step with the code. tests/test_image.py builds the same
# wheel and runs setup, worker and bridge from it alone.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# The whole context: .dockerignore keeps .venv, .git, tests, docs, local state
# and any .env out of it.
COPY . .
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv /opt/ticketflow \
 && /opt/ticketflow/bin/pip install /dist/ticketflow-*.whl

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json \
    PATH=/opt/ticketflow/bin:$PATH
RUN useradd --create-home --uid 10001 --user-group ticketflow
# Owned by root: the process can read its code, not change it.
COPY --from=build /opt/ticketflow /opt/ticketflow
USER ticketflow
WORKDIR /home/ticketflow
# The bridge listens on 8080; the worker serves metrics on 9464 when
# WORKER_METRICS_ADDRESS says so (docker-compose.yml does).
EXPOSE 8080 9464
CMD ["ticketflow", "worker"]
