import { createLogger } from '../src/logger';
import { installRuntime } from '../src/temporal/runtime';

// The SDK's own logs only when something is wrong; set LOG_LEVEL=debug to see them all.
installRuntime(createLogger({ name: 'test', level: process.env.LOG_LEVEL ?? 'warn' }));
