# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run with production dependencies only, as a non-root user.

FROM node:24-bookworm-slim AS build
# better-sqlite3 (the usage store's SQLite driver) compiles from source: Python, make and a C++ compiler.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS deps
# better-sqlite3 (the usage store's SQLite driver) compiles from source: Python, make and a C++ compiler.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8082 \
    SHUTDOWN_GRACE_SECONDS=10
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# The usage store (VDM_STORE=sqlite:data/usage.db, the default) lives on a volume.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 8082
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8082)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself. On SIGTERM the gateway stops accepting,
# lets in-flight requests finish for up to SHUTDOWN_GRACE_SECONDS, then ends the rest as `cancelled`.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
