import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, createWriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../workflows/definitions';

const ROOT = path.resolve(__dirname, '../..');
const TOOLS_BIN = path.join(process.env.TOOLS_DIR ?? path.join(ROOT, '.tools'), 'bin');

/** The Slack signing secret of `npm run local` (its Slack stand-in signs with it) unless SLACK_SIGNING_SECRET says otherwise. */
export const LOCAL_SLACK_SIGNING_SECRET = 'local-slack-signing-secret';

export interface StackOptions {
  /** Where the servers keep their files (SQLite databases, logs). */
  dataDir: string;
  /** Serve the Temporal Web UI (the local run does; the tests do not need it). */
  ui?: boolean;
  temporalPort?: number;
  uiPort?: number;
  mongoPort?: number;
  /** Use these instead of starting servers (TEMPORAL_ADDRESS / MONGO_URL). */
  temporalAddress?: string;
  mongoUrl?: string;
  /** SQLite pragmas for the Temporal dev server's database: `TEMPORAL_SQLITE_PRAGMAS` unless given; an empty list keeps SQLite's own. */
  temporalSqlitePragmas?: readonly string[];
  /** SQLite pragmas for FerretDB's databases, as `name(value)`: `FERRETDB_SQLITE_PRAGMAS` unless given; an empty list keeps FerretDB's own (WAL, synced at every commit). */
  ferretSqlitePragmas?: readonly string[];
  log?: (message: string) => void;
}

/**
 * The dev server's SQLite file in write-ahead-log mode, synced at checkpoints rather than at every
 * commit. With SQLite's defaults (a rollback journal, `synchronous=FULL`) every write Temporal makes
 * waits for several fsyncs: on these machines a signal-with-start at 50/s then took seconds, not
 * milliseconds (docs/BENCHMARKS.md, "The dev server's SQLite"). A commit in the log survives a
 * crash of the server; a power cut may lose the last ones. The dev server is for the local run and
 * the tests: production runs on a Temporal cluster or Temporal Cloud.
 */
export const TEMPORAL_SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=normal'];
/** FerretDB already keeps its SQLite files in write-ahead-log mode; the same trade: synced at checkpoints, not at every commit. */
export const FERRETDB_SQLITE_PRAGMAS: readonly string[] = ['synchronous(normal)'];

export interface Stack {
  temporalAddress: string;
  temporalUiUrl?: string;
  mongoUrl: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Builds the pinned Temporal CLI and FerretDB when missing (scripts/provision.sh). */
export function provision(log: (m: string) => void = console.warn): void {
  const result = spawnSync('bash', [path.join(ROOT, 'scripts/provision.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  for (const line of result.stdout.toString().split('\n').filter(Boolean)) log(line);
  if (result.status !== 0) throw new Error(`scripts/provision.sh failed with exit code ${result.status}`);
}

function startProcess(name: string, args: string[], logFile: string): ChildProcess {
  const child = spawn(path.join(TOOLS_BIN, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function waitFor(what: string, child: ChildProcess | undefined, check: () => Promise<void>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} while starting`);
    try {
      await check();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms: ${String(lastError)}`);
}

/** FerretDB's SQLite URL query for these pragmas (it adds its own defaults for the ones not named). */
function sqliteQuery(pragmas: readonly string[]): string {
  return pragmas.length ? `?${new URLSearchParams(pragmas.map((pragma): [string, string] => ['_pragma', pragma])).toString()}` : '';
}

async function tcpReady(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts the real Temporal dev server (SQLite, optional Web UI, custom search attributes) and
 * FerretDB (MongoDB wire protocol on SQLite), unless addresses of running servers are given.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const log = options.log ?? (() => undefined);
  mkdirSync(options.dataDir, { recursive: true });
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopProcess));
  };

  try {
    const needTemporal = !options.temporalAddress;
    const needMongo = !options.mongoUrl;
    if ((needTemporal && !existsSync(path.join(TOOLS_BIN, 'temporal'))) || (needMongo && !existsSync(path.join(TOOLS_BIN, 'ferretdb')))) {
      provision(log);
    }

    let temporalAddress = options.temporalAddress;
    let temporalUiUrl: string | undefined;
    let temporal: ChildProcess | undefined;
    if (!temporalAddress) {
      const port = options.temporalPort ?? (await freePort());
      const args = [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--db-filename',
        path.join(options.dataDir, 'temporal.sqlite'),
        '--log-level',
        'warn',
        ...(options.temporalSqlitePragmas ?? TEMPORAL_SQLITE_PRAGMAS).flatMap((pragma) => ['--sqlite-pragma', pragma]),
        ...SEARCH_ATTRIBUTE_REGISTRATIONS.flatMap((sa) => ['--search-attribute', sa]),
      ];
      if (options.ui) {
        const uiPort = options.uiPort ?? (await freePort());
        args.push('--ui-port', String(uiPort));
        temporalUiUrl = `http://127.0.0.1:${uiPort}`;
      } else {
        args.push('--headless');
      }
      temporal = startProcess('temporal', args, path.join(options.dataDir, 'temporal.log'));
      children.push(temporal);
      temporalAddress = `127.0.0.1:${port}`;
      log(`temporal: dev server on ${temporalAddress}${temporalUiUrl ? `, Web UI on ${temporalUiUrl}` : ''}`);
    }

    let mongoUrl = options.mongoUrl;
    let ferret: ChildProcess | undefined;
    let mongoPort = 0;
    if (!mongoUrl) {
      mongoPort = options.mongoPort ?? (await freePort());
      const dir = path.join(options.dataDir, 'ferretdb');
      mkdirSync(dir, { recursive: true });
      ferret = startProcess(
        'ferretdb',
        [
          '--handler=sqlite',
          `--sqlite-url=file:${dir}/${sqliteQuery(options.ferretSqlitePragmas ?? FERRETDB_SQLITE_PRAGMAS)}`,
          `--listen-addr=127.0.0.1:${mongoPort}`,
          `--state-dir=${dir}`,
          '--telemetry=disable',
          '--log-level=warn',
          '--debug-addr=-',
        ],
        path.join(options.dataDir, 'ferretdb.log'),
      );
      children.push(ferret);
      mongoUrl = `mongodb://127.0.0.1:${mongoPort}/jobber`;
      log(`ferretdb: MongoDB wire protocol on 127.0.0.1:${mongoPort}`);
    }

    const address = temporalAddress;
    await Promise.all([
      waitFor('Temporal', temporal, async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService.getSystemInfo({});
        } finally {
          await connection.close();
        }
      }),
      ferret ? waitFor('FerretDB', ferret, () => tcpReady(mongoPort)) : Promise.resolve(),
    ]);
    return { temporalAddress: address, temporalUiUrl, mongoUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
