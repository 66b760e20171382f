# The worker image for docker-compose.yml and production. The CLI (`consent-hub`) is in it too.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source on Node 20.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY . .

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LOG_FORMAT=json
COPY --from=build /app /app
USER node
ENTRYPOINT ["node", "bin/consent-hub.js"]
CMD ["worker"]
