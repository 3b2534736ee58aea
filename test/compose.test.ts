import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, ConfigError, configSchema, loadConfig } from '../src/config';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/definitions';
import { testTemporalAddress } from './helpers/env';

/**
 * What a user of `docker compose up` relies on, checked without Docker: the file names real
 * services and pinned images, the app gets a complete and valid configuration, the search
 * attributes match the workflows, the one-shot setup script works against a real server, the
 * image's Node is a supported LTS line, and the lockfile is one `npm ci` installs.
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
  pull_policy?: string;
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
    const parts = String(port)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
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

/**
 * Whether `version` (x.y.z) satisfies an `engines.node` range, in the forms package.json files use:
 * `a || b`, comparators joined by spaces, `>=` `>` `<=` `<` `=` `^` `~`, and partial or wildcard
 * versions (`20`, `10.*`, `*`). Anything else throws rather than guess.
 */
function satisfiesNode(version: string, range: string): boolean {
  const v = version.split('.').map(Number);
  const compare = (b: number[]): number => {
    for (let i = 0; i < b.length; i++) if (v[i] !== b[i]) return Math.sign(v[i]! - b[i]!);
    return 0;
  };
  return range.split('||').some((set) =>
    set
      .trim()
      .replace(/([<>=^~]+)\s+/g, '$1')
      .split(/\s+/)
      .every((comparator) => {
        const match = /^(>=|<=|>|<|=|\^|~)?v?(\*|x|\d+(?:\.(?:\d+|\*|x)){0,2})$/.exec(comparator);
        if (!match) throw new Error(`engines range "${range}": cannot read "${comparator}"`);
        const [, op = '=', text] = match;
        const b = text!
          .split('.')
          .filter((p) => p !== '*' && p !== 'x')
          .map(Number);
        if (b.length === 0) return true;
        switch (op) {
          case '>=':
            return compare(b) >= 0;
          case '>':
            return compare(b) > 0;
          case '<=':
            return compare(b) <= 0;
          case '<':
            return compare(b) < 0;
          case '^':
            return v[0] === b[0] && compare(b) >= 0;
          case '~':
            return v[0] === b[0] && (b.length < 2 || v[1] === b[1]) && compare(b) >= 0;
          default:
            return compare(b) === 0;
        }
      }),
  );
}

/** The built file of a source entry point: tsconfig.build.json compiles the repository root into dist/. */
const sourceOf = (builtFile: string): string => path.join(ROOT, builtFile.replace(/^dist\//, '').replace(/\.js$/, '.ts'));

describe('docker-compose.yml', () => {
  it('runs Temporal with its store, Web UI and search-attribute setup, MongoDB, the ingress and the worker', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgresql', 'temporal', 'temporal-setup', 'temporal-ui', 'mongo', 'ingress', 'worker']));
  });

  it('pins every image to an explicit version tag and builds only the app', () => {
    const appImage = service('ingress').image;
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image === undefined) {
        expect({ name, build: svc.build }).toEqual({ name, build: expect.anything() });
        continue;
      }
      // The app's image is built from this repository, not pulled (next test).
      if (svc.image === appImage) continue;
      const tag = /^[^@\s]+:([^:/@\s]+)$/.exec(svc.image)?.[1];
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^\d+(\.\d+)*(-[A-Za-z0-9.-]+)?$/) });
    }
    const builders = Object.entries(services).filter(([, svc]) => svc.build !== undefined);
    expect(builders.map(([name]) => name)).toEqual(['ingress']);
    const build = service('ingress').build;
    expect(typeof build === 'string' ? build : build?.context).toBe('.');
  });

  it('builds one app image, named once, that the ingress and the worker both run', () => {
    const image = service('ingress').image;
    expect(image).toEqual(expect.stringMatching(/^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+$/));
    for (const name of APP_SERVICES) expect({ name, image: service(name).image }).toEqual({ name, image });
    // Named in one place (the shared x-app block), so the two cannot drift apart.
    expect(read('docker-compose.yml').split(image!).length - 1).toBe(1);
    // Only the ingress builds it; the worker must not look for it in a registry, where it is not.
    expect(service('worker').build).toBeUndefined();
    expect(service('worker').pull_policy).toBe('never');
  });

  it('starts the ingress with the image default command and the worker with the worker entry point', () => {
    expect(service('ingress').command).toBeUndefined();
    const workerCommand = asList(service('worker').command);
    expect(workerCommand).toEqual(['node', 'dist/src/bin/worker.js']);
    expect(existsSync(sourceOf(workerCommand[1]!))).toBe(true);
  });

  it('runs any number of workers: `docker compose up --scale worker=N` needs no fixed name or host port on the worker', () => {
    const worker = service('worker') as Service & { container_name?: string; hostname?: string };
    expect(worker.container_name).toBeUndefined();
    expect(worker.hostname).toBeUndefined();
    // Published host ports would collide between replicas; the metrics port is only exposed on the network.
    expect(portsOf(worker).filter((p) => p.published !== undefined)).toEqual([]);
    expect(read('docker-compose.yml')).toContain('--scale worker=');
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
      const unknown = Object.keys(environmentOf(service(name))).filter((key) => !(CONFIG_VARIABLES as string[]).includes(key) && !ALLOWED_EXTRAS.includes(key));
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

  it('opens the Web UI on the namespace the app uses, also when .env sets another one', () => {
    const ui = service('temporal-ui');
    expect(environmentOf(ui).TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(environmentOf(ui).TEMPORAL_DEFAULT_NAMESPACE).toBe(environmentOf(service('temporal')).DEFAULT_NAMESPACE);
    const custom = { ...envExample.values, TEMPORAL_NAMESPACE: 'jobber' };
    expect(environmentOf(ui, custom).TEMPORAL_DEFAULT_NAMESPACE).toBe('jobber');
    expect(environmentOf(service('ingress'), custom).TEMPORAL_NAMESPACE).toBe('jobber');
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
  const scriptEnv = (namespace: string) => withTools({ ...environmentOf(setup), TEMPORAL_ADDRESS: testTemporalAddress(), TEMPORAL_NAMESPACE: namespace });
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
    expect(listed.customAttributes).toEqual(Object.fromEntries(SEARCH_ATTRIBUTE_REGISTRATIONS.map((r) => [r.split('=')[0], 'INDEXED_VALUE_TYPE_KEYWORD'])));
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

  it('runs one Node version of an LTS line that is supported today, which package.json and every production dependency accept', () => {
    const versions = [...new Set(stages.map((s) => /^node:([\d.]+)-/.exec(s.from)?.[1]))];
    expect(versions).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+$/)]);
    const version = versions[0]!;
    // Node's own release schedule, as the node-releases package (a dependency of webpack, which
    // the Temporal worker bundles with) ships it: it moves with package-lock.json.
    const schedule = JSON.parse(readFileSync(require.resolve('node-releases/data/release-schedule/release-schedule.json'), 'utf8')) as Record<
      string,
      { lts?: string; end: string }
    >;
    const line = schedule[`v${version.split('.')[0]}`];
    const today = new Date().toISOString().slice(0, 10);
    const status =
      line === undefined
        ? 'unknown line'
        : !line.lts || line.lts > today
          ? 'not an LTS line'
          : line.end <= today
            ? `end of life since ${line.end}`
            : 'supported LTS';
    expect({ version, status }).toEqual({ version, status: 'supported LTS' });

    const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
    expect({ engines: pkg.engines.node, version, accepted: satisfiesNode(version, pkg.engines.node) }).toEqual({
      engines: pkg.engines.node,
      version,
      accepted: true,
    });
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { dev?: boolean; engines?: unknown }> };
    const rejecting = Object.entries(lock.packages)
      .filter(([at, entry]) => at && !entry.dev && typeof (entry.engines as { node?: unknown })?.node === 'string')
      .map(([at, entry]) => ({ at, node: (entry.engines as { node: string }).node }))
      .filter(({ node }) => !satisfiesNode(version, node));
    expect(rejecting).toEqual([]);
  });

  it('installs dependencies with npm ci: exactly package-lock.json, failing when it does not match package.json', () => {
    for (const name of ['build', 'deps']) {
      const installs = all(stage(name), 'RUN').filter((r) => /\bnpm (ci|install|i)\b/.test(r));
      expect({ name, installs }).toEqual({ name, installs: [expect.stringMatching(/\bnpm ci\b/)] });
    }
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
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', 'node_modules', 'dist']));
  });
});

describe('package-lock.json', () => {
  const lock = JSON.parse(read('package-lock.json')) as {
    packages: Record<
      string,
      { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; devDependencies?: Record<string, string> }
    >;
  };

  it('has an entry for every dependency of every package, the optional binaries of other platforms included', () => {
    // Where npm resolves a dependency from a package's folder: its own node_modules, then each parent's.
    const resolves = (from: string, name: string): boolean => {
      for (let at = from; ; at = at.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, '')) {
        if (`${at ? `${at}/` : ''}node_modules/${name}` in lock.packages) return true;
        if (!at) return false;
      }
    };
    const missing = Object.entries(lock.packages).flatMap(([at, entry]) =>
      Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...(at === '' ? entry.devDependencies : {}) })
        .filter((name) => !resolves(at, name))
        .map((name) => `${at || '(root)'} -> ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('records package.json as it is, so that npm install leaves the lock unchanged', () => {
    const pkg = JSON.parse(read('package.json')) as Record<string, unknown>;
    const root = lock.packages['']! as Record<string, unknown>;
    for (const field of ['name', 'version', 'license', 'dependencies', 'devDependencies', 'engines']) {
      expect({ field, lock: root[field] }).toEqual({ field, lock: pkg[field] });
    }
  });

  it('admits in package.json engines no Node release that a production dependency rejects, except the 20.x the tests run on here', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const production = Object.entries(lock.packages as Record<string, { dev?: boolean; engines?: { node?: unknown } }>)
      .filter(([at, entry]) => at && !entry.dev && typeof entry.engines?.node === 'string')
      .map(([at, entry]) => ({ at, node: entry.engines!.node as string }));
    const releases = Array.from({ length: 13 }, (_, i) => 18 + i).flatMap((major) => Array.from({ length: 40 }, (_, minor) => `${major}.${minor}.0`));
    // Node 20 is past its end of life but is what these machines run: the suite passing on it is
    // what keeps it in engines (README, "Node.js versions"), whatever a dependency declares.
    const admitted = releases.filter((version) => satisfiesNode(version, engines) && !version.startsWith('20.'));
    expect(admitted.length).toBeGreaterThan(0);
    const conflicts = admitted.flatMap((version) =>
      production.filter(({ node }) => !satisfiesNode(version, node)).map(({ at, node }) => `${version}: ${at} needs ${node}`),
    );
    expect(conflicts).toEqual([]);
  });

  it('is accepted by npm ci, the install of the README, CI and the Dockerfile', () => {
    // A dry run in a copy checks the lock against package.json without installing or downloading.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'npm-ci-'));
    try {
      for (const file of ['package.json', 'package-lock.json']) writeFileSync(path.join(dir, file), read(file));
      const result = spawnSync('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        env: { ...process.env, npm_config_cache: path.join(dir, '.npm') },
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect({ status: result.status, errors: result.stderr.split('\n').filter((l) => l.startsWith('npm error')) }).toEqual({ status: 0, errors: [] });
      expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('.env.example', () => {
  it('lists exactly the variables the config reads, each once', () => {
    expect(new Set(envExample.names).size).toBe(envExample.names.length);
    expect([...envExample.names].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
