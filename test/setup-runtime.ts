import { createLogger } from '../src/logger';
import { installRuntime } from '../src/worker/runtime';

// Only the SDK's errors: fault tests make activities fail on purpose. LOG_LEVEL=debug shows all.
installRuntime(createLogger({ name: 'test', level: process.env.LOG_LEVEL ?? 'error' }));
