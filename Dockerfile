# The operator's image: `docker build -t asab-discovery-operator:0.1.0 .`
# Stage 1 builds a virtualenv with the operator and its dependencies; stage 2 is the slim
# base with that virtualenv only (no pip cache, no compilers, no source tree).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/operator
COPY pyproject.toml README.md /src/
COPY operator /src/operator
RUN /opt/operator/bin/pip install /src \
 && /opt/operator/bin/pip uninstall -y pip setuptools

FROM python:3.11-slim
LABEL org.opencontainers.image.title="asab-discovery-operator" \
      org.opencontainers.image.description="Kubernetes into ASAB service discovery (ZooKeeper), and back" \
      org.opencontainers.image.licenses="BSD-3-Clause"
RUN groupadd --system --gid 10001 operator \
 && useradd --system --uid 10001 --gid operator --no-create-home --shell /usr/sbin/nologin operator
COPY --from=build /opt/operator /opt/operator
ENV PATH=/opt/operator/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 9180
ENTRYPOINT ["asab-operator"]
CMD ["run"]
