# The server's image: built with `npm ci`, the codegen check and tsc, run on Node 24 with production dependencies only,
# as a non-root user. Works with Docker and Podman (`podman build -t portal-graphql .`).
#
# BASE_IMAGE is any Debian bookworm with Node 24 and npm on PATH: the official image by default; a machine that
# reaches no container registry builds a local one (see "Deploying" in the README, and test/container/).
ARG BASE_IMAGE=node:24-bookworm-slim

# What the server needs at run time, installed from the lock file alone: nothing of the build's tools, not even the
# empty scope folders that `npm prune` leaves behind.
FROM ${BASE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE} AS build
WORKDIR /app
# The lock file alone first, so that the dependencies' layer is reused while only the sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run codegen:check && npm run build

FROM ${BASE_IMAGE} AS runtime
# A fixed numeric id, so that an orchestrator's runAsNonRoot can check it without reading /etc/passwd.
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin portal
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
COPY --from=build /app/package.json /app/package-lock.json /app/schema.graphql ./
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 10001:10001
# GraphQL on PORT (POST /graphql; GET /healthz: alive; GET /readyz: ready, 503 while the portal cannot be reached or
# the server drains). /metrics is beside the API unless METRICS_PORT gives it a listener of its own.
EXPOSE 4000
# Node is PID 1 itself (exec form, no shell, no npm): SIGTERM reaches the server, which drains the requests in
# flight for at most SHUTDOWN_GRACE_MS and exits 0. The flag is `npm start`'s.
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
