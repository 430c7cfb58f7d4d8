# syntax=docker/dockerfile:1
# roomgate's image: the package as npm would publish it, installed with its
# production dependencies only. test/integration/pack-install.test.ts runs the
# same steps (npm pack, npm install --omit=dev of the tarball, start with
# config/production.example.yaml) on machines that cannot build images.
#
#   docker build -t roomgate:0.1.0 .
#   docker run --rm -p 8080:8080 --ulimit nofile=1048576:1048576 \
#     --env-file /etc/roomgate/env roomgate:0.1.0
#
# Open files: every WebSocket is one file descriptor. Docker's default limit
# may be far below what one instance should hold (ws.maxConnections, 100,000):
# raise it per container with `--ulimit nofile=1048576:1048576` (compose:
# `ulimits: nofile:`). A Dockerfile cannot set it.

# ---- build: compile, then pack exactly what npm would publish ----
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the prepare script (npm run build) would run before the
# sources are copied; the build is its own step below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json README.md LICENSE CHANGELOG.md ./
COPY bin ./bin
COPY src ./src
COPY public ./public
COPY config ./config
COPY deploy ./deploy
RUN npm run build
# dist/ is built: pack without running prepare (the build) a second time.
RUN npm pack --ignore-scripts && mv roomgate-*.tgz /tmp/

# ---- runtime: the tarball and its production dependencies, nothing else ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /tmp/roomgate-*.tgz ./
RUN npm install --omit=dev --no-audit --no-fund ./roomgate-*.tgz \
 && ln -s /app/node_modules/.bin/roomgate /usr/local/bin/roomgate \
 && rm ./roomgate-*.tgz \
 && npm cache clean --force \
 && groupadd --system roomgate \
 && useradd --system --gid roomgate --home-dir /app --shell /usr/sbin/nologin roomgate \
 && mkdir -p /etc/roomgate
# The example production config: secrets come from the environment
# (INTERNAL_AUTH_TOKEN, API_GATEWAY_KEY, DEVICE_JWT_SECRET, REDIS_URL, ...).
# Mount your own over it: -v /etc/roomgate/config.yaml:/etc/roomgate/config.yaml:ro
COPY config/production.example.yaml /etc/roomgate/config.yaml
USER roomgate
EXPOSE 8080
# Liveness: /healthz on the client port (it stays there when admin.port is set).
# No curl in slim images: Node's fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains (shutdown.drainTimeoutMs, 10 s): stop with `docker stop -t 30`.
# SIGHUP reloads the config: `docker kill -s HUP <container>`.
STOPSIGNAL SIGTERM
CMD ["roomgate", "start", "--config", "/etc/roomgate/config.yaml"]
