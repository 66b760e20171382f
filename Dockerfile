# The worker and API image for docker-compose.yml and production. The CLI (`consent-hub`) is in it too.
# One build stage compiles everything (`npm run build`: tsc to dist/ and the pre-bundled workflow code);
# the image that runs holds only the compiled output and the production dependencies: no TypeScript
# sources, no tsx or other dev dependencies, no sandboxes and no dev setup.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source on Node 20.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Scripts off: the package's own `prepare` (the build) needs the sources, copied below. `npm rebuild` then
# runs the dependencies' install scripts (better-sqlite3's native build).
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild
COPY . .
RUN npm run build \
  && npm prune --omit=dev --no-audit --no-fund \
  && rm -rf dist/dev dist/sandboxes dist/build dist/cli/commands/dev-command.js.map

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LOG_FORMAT=json
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
# The console's templates and stylesheet are read at run time, next to the build.
COPY --from=build /app/console/views ./console/views
COPY --from=build /app/node_modules ./node_modules
# The data dir (CONSENT_HUB_DATA_DIR, a volume in docker-compose.yml: access exports, a SQLite ledger) must be
# the runtime user's: Docker creates a volume's mount point that the image lacks as root, and the worker
# could then not write an access export there (EACCES).
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "bin/consent-hub.js"]
CMD ["worker"]
