# syntax=docker/dockerfile:1
#
# One image for both app services: the ingress (default command) and the Temporal worker
# (docker-compose.yml overrides the command with `node dist/src/bin/worker.js`).
#
# Debian (glibc), not Alpine: @temporalio/worker loads the SDK core as a native module that is
# published for glibc Linux only (x64 and arm64). Node 26 is the Active LTS line (from 2026-10-28;
# maintenance from 2027-10-20, end of life 2029-04-30), on Debian 13 (trixie), Debian's stable
# release. Pinned like the other images, to the release the tests ran on: move it to each new
# 26.x (security fixes); test/compose.test.ts fails once the line is out of support.
ARG NODE_IMAGE=node:26.10.0-trixie-slim

# ---- build: compile TypeScript and prebuild the workflow bundle ----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci installs exactly package-lock.json and fails if it does not match package.json.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts/bundle-workflows.ts ./scripts/
# tsc emits dist/src, dist/workflows, dist/activities (rootDir is the repository root). The
# workflow bundle is built once here, as Temporal's production sample does, so the worker starts
# without webpack and runs exactly the workflow code of this image. The image carries no Jobber
# sandbox or dev servers (tsconfig.build.json leaves them out): they run on the host, and their
# packages (jose, @graphql-tools/schema) are devDependencies, which the deps stage omits.
RUN npm run build \
 && npx tsx scripts/bundle-workflows.ts dist/workflow-bundle.js

# ---- deps: production dependencies only -----------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts are needed at runtime (the SDK ships its native binaries in the package).
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts

# ---- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# WORKFLOW_BUNDLE_PATH is read by src/bin/worker.ts: load the prebuilt bundle, do not bundle at start.
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
# Owned by root: the app user can read its code but not change it.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's unprivileged user (uid 1000).
USER node
# 3000: ingress HTTP (PORT). 9464: worker Prometheus metrics (METRICS_PORT).
EXPOSE 3000 9464
CMD ["node", "dist/src/bin/ingress.js"]
