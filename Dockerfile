# autofix worker image. Debian (glibc), never Alpine: the Temporal SDK's native core is
# glibc-only. Build: docker build -t autofix . ; run: see docker-compose.yml.

# --- build: install everything, compile TypeScript and the workflow bundle into dist/ -----------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: production dependencies, compiled output, default config; runs as `node` -----------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/config ./config
COPY --from=build /app/deploy/docker ./deploy/docker
# autofix/ is the default data_dir and logs/ holds auto_fix.log and alerts.log (../autofix and
# ../logs from config/); named volumes mounted here inherit this ownership on first use.
RUN mkdir -p /app/autofix /app/logs && chown node:node /app/autofix /app/logs
USER node
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=5 \
  CMD ["node", "deploy/docker/worker-healthcheck.js"]
CMD ["node", "bin/autofix", "worker"]
