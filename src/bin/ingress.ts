import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { connectDatabase } from '../db/models';
import { startIngress } from '../ingress/server';
import { onShutdown } from './shutdown';

async function main() {
  const logger = createLogger({ name: 'ingress' });
  const config = loadConfig();
  const { connection: mongo, models } = await connectDatabase(config.mongoUrl);
  const ingress = await startIngress(config, logger, { mongo, models });
  onShutdown(logger, async () => {
    await ingress.close();
    await mongo.close();
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
