import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, ConfigError, configSchema, loadConfig } from '../src/config';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/definitions';
import { testTemporalAddress } from './helpers/env';

/**
 * What a user of `docker compose up` relies on, checked without Docker: the file names real
 * services and pinned images, the app gets a complete and valid configuration, the search
 * attributes match the workflows, and the one-shot setup script works against a real server.
 */

const ROOT = path.resolve(__dirname, '..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** Variables the app services may set besides CONFIG_VARIABLES: read outside src/config.ts. */
const ALLOWED_EXTRAS = ['LOG_LEVEL', 'METRICS_PORT', 'WORKFLOW_BUNDLE_PATH'];
const APP_SERVICES = ['ingress', 'worker'] as const;

type Scalar = string | number | boolean | null;
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, Scalar> | string[];
  env_file?: (string | { path: string; required?: boolean })[] | string;
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test: string | string[] };
  restart?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const service = (name: string): Service => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};

/** `.env.example` as a user copies it to `.env`: names in order, values as written. */
function readEnvExample(): { names: string[]; values: Record<string, string> } {
  const names: string[] = [];
  const values: Record<string, string> = {};
  for (const line of read('.env.example').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    names.push(match[1]!);
    values[match[1]!] = match[2]!;
  }
  return { names, values };
}
const envExample = readEnvExample();

/** Compose interpolation, the forms this file may use: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}. */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, name, colon, op, arg, bare) => {
    if (whole === '$$') return '$';
    const key = (name ?? bare) as string;
    const current = vars[key];
    const unset = current === undefined || (colon === ':' && current === '');
    if (op === '-') return unset ? (arg as string) : current!;
    if (op === '?') {
      if (unset) throw new Error(`compose would refuse to start: ${key} ${arg}`);
      return current!;
    }
    return current ?? '';
  });
}

/** A service's `environment` after interpolation with the variables of `.env`. */
function environmentOf(svc: Service, vars: Record<string, string> = envExample.values): Record<string, string> {
  const entries = Array.isArray(svc.environment)
    ? svc.environment.map((item): [string, string] => {
        const at = item.indexOf('=');
        return at < 0 ? [item, vars[item] ?? ''] : [item.slice(0, at), item.slice(at + 1)];
      })
    : Object.entries(svc.environment ?? {}).map(([k, v]): [string, string] => [k, v === null ? (vars[k] ?? '') : String(v)]);
  return Object.fromEntries(entries.map(([k, v]) => [k, interpolate(v, vars)]));
}

/** Published ports as { hostIp, published, target }; the short form is [ip:][published:]target[/proto]. */
function portsOf(svc: Service): { hostIp?: string; published?: number; target: number }[] {
  return (svc.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: port.host_ip, published: port.published === undefined ? undefined : Number(port.published), target: Number(port.target) };
    }
    const parts = String(port).replace(/\/(tcp|udp)$/, '').split(':');
    const target = Number(parts.pop());
    const published = parts.length ? Number(parts.pop()) : undefined;
    return { hostIp: parts.pop(), published, target };
  });
}

function dependsOn(svc: Service): Record<string, string> {
  if (!svc.depends_on) return {};
  if (Array.isArray(svc.depends_on)) return Object.fromEntries(svc.depends_on.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(svc.depends_on).map(([name, dep]) => [name, dep.condition ?? 'service_started']));
}

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The built file of a source entry point: tsconfig.build.json compiles the repository root into dist/. */
const sourceOf = (builtFile: string): string => path.join(ROOT, builtFile.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

describe('docker-compose.yml', () => {
  it('runs Temporal with its store, Web UI and search-attribute setup, MongoDB, the ingress and the worker', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'mongo', 'ingress', 'worker']),
    );
  });

  it('pins every image to an explicit version tag and builds only the app', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image === undefined) {
        expect({ name, build: svc.build }).toEqual({ name, build: expect.anything() });
        continue;
      }
      const tag = /^[^@\s]+:([^:/@\s]+)$/.exec(svc.image)?.[1];
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^\d+(\.\d+)*(-[A-Za-z0-9.-]+)?$/) });
    }
    for (const name of APP_SERVICES) {
      const build = service(name).build;
      expect({ name, context: typeof build === 'string' ? build : build?.context }).toEqual({ name, context: '.' });
    }
  });

  it('starts the ingress with the image default command and the worker with the worker entry point', () => {
    expect(service('ingress').command).toBeUndefined();
    const workerCommand = asList(service('worker').command);
    expect(workerCommand).toEqual(['node', 'dist/src/bin/worker.js']);
    expect(existsSync(sourceOf(workerCommand[1]!))).toBe(true);
  });

  it('publishes the ingress on port 3000 and the Web UI on a host port', () => {
    expect(portsOf(service('ingress'))).toContainEqual(expect.objectContaining({ published: 3000, target: 3000 }));
    expect(environmentOf(service('ingress')).PORT).toBe('3000');
    const ui = portsOf(service('temporal-ui')).find((p) => p.target === 8080);
    expect(ui?.published).toBe(8233);
    // The UI has no login: it must not be reachable from other machines.
    expect(ui?.hostIp).toBe('127.0.0.1');
  });

  it('sets on the app services only variables the app reads', () => {
    for (const name of APP_SERVICES) {
      const unknown = Object.keys(environmentOf(service(name))).filter(
        (key) => !(CONFIG_VARIABLES as string[]).includes(key) && !ALLOWED_EXTRAS.includes(key),
      );
      expect({ name, unknown }).toEqual({ name, unknown: [] });
    }
  });

  it('points both app services at the compose Temporal, namespace and MongoDB, not at localhost', () => {
    const namespace = environmentOf(service('temporal')).DEFAULT_NAMESPACE;
    expect(environmentOf(service('temporal-setup')).TEMPORAL_NAMESPACE).toBe(namespace);
    for (const name of APP_SERVICES) {
      const env = environmentOf(service(name));
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env.TEMPORAL_NAMESPACE).toBe(namespace);
      expect(new URL(env.MONGO_URL!).hostname).toBe('mongo');
    }
    // A TEMPORAL_NAMESPACE set in .env reaches the server, the setup and the app alike.
    const custom = { ...envExample.values, TEMPORAL_NAMESPACE: 'jobber' };
    for (const name of ['temporal-setup', ...APP_SERVICES]) {
      expect(environmentOf(service(name), custom).TEMPORAL_NAMESPACE).toBe('jobber');
    }
    expect(environmentOf(service('temporal'), custom).DEFAULT_NAMESPACE).toBe('jobber');
  });

  it('provides every required config variable, through environment or the .env copied from .env.example', () => {
    const required = CONFIG_VARIABLES.filter((key) => !configSchema.shape[key].isOptional());
    expect(required).toEqual(expect.arrayContaining(['MONGO_URL', 'JOBBER_CLIENT_SECRET', 'TOKEN_ENCRYPTION_KEY']));
    for (const name of APP_SERVICES) {
      const svc = service(name);
      const envFiles = (Array.isArray(svc.env_file) ? svc.env_file : svc.env_file ? [svc.env_file] : []).map((f) =>
        path.normalize(typeof f === 'string' ? f : f.path),
      );
      expect(envFiles).toContain('.env');
      const provided = new Set([...Object.keys(environmentOf(svc)), ...envExample.names]);
      expect({ name, missing: required.filter((key) => !provided.has(key)) }).toEqual({ name, missing: [] });
    }
  });

  it('yields a valid configuration once the blanks of .env.example are filled, with the compose addresses winning', () => {
    // Without .env only the compose variables are set: the app names what the user must fill in.
    try {
      loadConfig(environmentOf(service('worker')));
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const missing = (err as ConfigError).problems.map((p) => p.replace(/ is required but not set$/, ''));
      expect(envExample.names).toEqual(expect.arrayContaining(missing));
    }
    const filled: Record<string, string> = {
      ...envExample.values,
      JOBBER_CLIENT_ID: 'client-id',
      JOBBER_CLIENT_SECRET: 'client-secret',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'signing-secret',
      TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      SESSION_SECRET: 's'.repeat(32),
    };
    for (const name of APP_SERVICES) {
      // environment overrides env_file in compose: .env.example's localhost addresses lose.
      const config = loadConfig({ ...filled, ...environmentOf(service(name), filled) });
      expect(config.temporal.address).toBe('temporal:7233');
      expect(config.mongoUrl).toBe('mongodb://mongo:27017/jobber');
    }
  });

  it('registers exactly the search attributes the workflows set', () => {
    const registrations = environmentOf(service('temporal-setup')).SEARCH_ATTRIBUTES!.split(/\s+/).filter(Boolean);
    expect([...registrations].sort()).toEqual([...SEARCH_ATTRIBUTE_REGISTRATIONS].sort());
  });

  it('depends only on services that exist, waiting for health only where there is a healthcheck', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(svc))) {
        expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect({ dep, healthcheck: Boolean(services[dep]!.healthcheck) }).toEqual({ dep, healthcheck: true });
        // Waiting for a restarting service to complete would wait forever.
        if (condition === 'service_completed_successfully') expect({ dep, restart: services[dep]!.restart ?? 'no' }).toEqual({ dep, restart: 'no' });
      }
    }
    for (const name of APP_SERVICES) {
      expect(dependsOn(service(name))).toEqual({
        temporal: 'service_healthy',
        'temporal-setup': 'service_completed_successfully',
        mongo: 'service_healthy',
      });
      expect(service(name).healthcheck).toBeDefined();
    }
  });
});

describe('the temporal-setup script, run against the real Temporal server', () => {
  const setup = service('temporal-setup');
  const raw = asList(setup.command).join('\n');
  const script = interpolate(raw, {});
  const toolsBin = path.join(process.env.TOOLS_DIR ?? path.join(ROOT, '.tools'), 'bin');
  // The CLI is provisioned with the test server; it is absent only when tests use an external one.
  const withCli = existsSync(path.join(toolsBin, 'temporal')) ? it : it.skip;

  // The CLI on PATH, as in the admin-tools image; the script gets the service's environment.
  const withTools = (env: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: `${toolsBin}${path.delimiter}${process.env.PATH}`,
    ...env,
  });
  const temporal = (...args: string[]) => {
    const result = spawnSync('temporal', [...args, '--address', testTemporalAddress()], { env: withTools(), encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`temporal ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  const [shell, ...shellArgs] = asList(setup.entrypoint);
  const scriptEnv = (namespace: string) =>
    withTools({ ...environmentOf(setup), TEMPORAL_ADDRESS: testTemporalAddress(), TEMPORAL_NAMESPACE: namespace });
  const runScript = (namespace: string) => spawnSync(shell!, [...shellArgs, script], { env: scriptEnv(namespace), encoding: 'utf8' });
  const freshNamespace = (register = true) => {
    const namespace = `compose-${randomUUID().slice(0, 8)}`;
    if (register) temporal('operator', 'namespace', 'create', '--namespace', namespace);
    return namespace;
  };

  it('leaves nothing for compose to interpolate: every shell $ is written $$', () => {
    expect(raw.replace(/\$\$/g, '')).not.toContain('$');
    expect(asList(setup.entrypoint)).toEqual(['/bin/bash', '-c']);
  });

  withCli('registers the attributes on a fresh namespace, and a second run changes nothing', () => {
    const namespace = freshNamespace();
    const first = runScript(namespace);
    expect({ status: first.status, stderr: first.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const second = runScript(namespace);
    expect({ status: second.status, stderr: second.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const listed = JSON.parse(temporal('operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json')) as {
      customAttributes: Record<string, string>;
    };
    expect(listed.customAttributes).toEqual(
      Object.fromEntries(SEARCH_ATTRIBUTE_REGISTRATIONS.map((r) => [r.split('=')[0], 'INDEXED_VALUE_TYPE_KEYWORD'])),
    );
  });

  withCli('waits for a namespace that the server registers after it starts serving', async () => {
    const namespace = freshNamespace(false);
    const child = spawn(shell!, [...shellArgs, script], { env: scriptEnv(namespace) });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes(`waiting for namespace ${namespace}`)) resolve();
      });
      child.once('exit', () => reject(new Error(`the script exited before waiting: ${stdout}`)));
    });
    temporal('operator', 'namespace', 'create', '--namespace', namespace);
    expect(await exited).toBe(0);
    expect(stdout).toContain(`search attribute JobberAccountId (Keyword) is registered in namespace ${namespace}`);
  });

  withCli('fails, naming the attribute, when it already exists with another type', () => {
    const namespace = freshNamespace();
    temporal('operator', 'search-attribute', 'create', '--namespace', namespace, '--name', 'JobberTopic', '--type', 'Text');
    const result = runScript(namespace);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("search attribute JobberTopic is 'Text'");
  });
});

describe('Dockerfile', () => {
  interface Stage {
    name?: string;
    from: string;
    instructions: { op: string; args: string }[];
  }
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op!.toUpperCase() === 'ARG' && stages.length === 0) {
      const [key, value] = rest!.split('=');
      args[key!] = value ?? '';
    } else if (op!.toUpperCase() === 'FROM') {
      const [from, , name] = rest!.split(/\s+/);
      stages.push({ from: interpolate(from!, args), name, instructions: [] });
    } else {
      stages.at(-1)!.instructions.push({ op: op!.toUpperCase(), args: rest! });
    }
  }
  const stage = (name: string): Stage => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`the Dockerfile has no stage ${name}`);
    return found;
  };
  const runtime = stages.at(-1)!;
  const all = (s: Stage, op: string) => s.instructions.filter((i) => i.op === op).map((i) => i.args);

  it('builds on a glibc Node image: the SDK native module has no musl build', () => {
    for (const s of stages) expect(s.from).toMatch(/^node:\d+(\.\d+)*-(bookworm|bullseye|trixie)(-slim)?$/);
  });

  it('compiles and prebuilds the workflow bundle in the build stage, and the runtime points the worker at it', () => {
    const build = stage('build');
    const run = all(build, 'RUN').join(' && ');
    expect(run).toContain('npm run build');
    const bundleOut = /scripts\/bundle-workflows\.ts\s+(\S+)/.exec(run)?.[1];
    expect(bundleOut).toBeDefined();
    const builtAt = path.posix.join(all(build, 'WORKDIR').at(-1)!, bundleOut!);
    expect(all(runtime, 'COPY')).toContainEqual(expect.stringMatching(/^--from=build\s+\/app\/dist\s/));
    expect(all(runtime, 'ENV').join(' ')).toContain(`WORKFLOW_BUNDLE_PATH=${builtAt}`);
    expect(all(runtime, 'RUN').join(' ')).not.toContain('npm run build');
  });

  it('runs the runtime stage as an unprivileged user and starts the ingress by default', () => {
    const user = all(runtime, 'USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    const cmd = JSON.parse(all(runtime, 'CMD').at(-1)!) as string[];
    expect(cmd).toEqual(['node', 'dist/src/bin/ingress.js']);
    expect(existsSync(sourceOf(cmd[1]!))).toBe(true);
  });

  it('keeps .env out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', 'node_modules', 'dist']));
  });
});

describe('.env.example', () => {
  it('lists exactly the variables the config reads, each once', () => {
    expect(new Set(envExample.names).size).toBe(envExample.names.length);
    expect([...envExample.names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
