import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * scripts/preflight.sh, which `npm test` runs first, on machines made to lack one thing at a time:
 * a PATH of chosen programs (stand-ins, except Node.js), CHROMIUM_PATH and TOOLS_DIR pointing where
 * the test says. Each missing thing must be named with the command that installs it.
 */
const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts/preflight.sh');

function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  throw new Error(`${name} is not on PATH`);
}
const BASH = which('bash');

function executable(file: string, script: string): string {
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

interface Machine {
  /** Programs on PATH besides bash and node. */
  tools?: string[];
  goVersion?: string;
  nodeVersion?: string;
  chromium?: boolean;
  /** The Temporal CLI and FerretDB already built (then Go is not needed). */
  serversBuilt?: boolean;
  /** Where the script runs from (default: this checkout). */
  root?: string;
}

const EVERYTHING = ['go', 'curl', 'jq', 'openssl'];

function preflight(machine: Machine = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(BASH, path.join(bin, 'bash'));
  if (machine.nodeVersion) {
    executable(path.join(bin, 'node'), `if [ "$1" = --version ]; then echo v${machine.nodeVersion}; else exec "${process.execPath}" "$@"; fi`);
  } else {
    symlinkSync(process.execPath, path.join(bin, 'node'));
  }
  for (const tool of machine.tools ?? EVERYTHING) {
    executable(path.join(bin, tool), tool === 'go' ? `echo "go version go${machine.goVersion ?? '1.24.0'} linux/amd64"` : 'exit 0');
  }
  const tools = path.join(dir, 'tools');
  mkdirSync(path.join(tools, 'bin'), { recursive: true });
  if (machine.serversBuilt) for (const server of ['temporal', 'ferretdb']) executable(path.join(tools, 'bin', server), 'exit 0');
  const chromium = machine.chromium === false ? path.join(dir, 'no-chromium') : executable(path.join(dir, 'chromium'), 'exit 0');
  const script = machine.root ? path.join(machine.root, 'scripts/preflight.sh') : SCRIPT;
  const result = spawnSync(BASH, [script], {
    env: { PATH: bin, CHROMIUM_PATH: chromium, TOOLS_DIR: tools },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, chromium, tools };
}

describe('the preflight of npm test', () => {
  it('runs first in npm test, before lint, tsc and jest', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test).toMatch(/^bash scripts\/preflight\.sh && npm run lint && /);
  });

  it('passes a machine that has everything, naming what it found', () => {
    const { code, stdout, stderr } = preflight();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^preflight: ready \(Node\.js \d+\.\d+\.\d+, Go 1\.24\.0, Chromium, curl, jq, openssl\)$/m);
  });

  it('names Chromium, where it looked and how to get it, and nothing else', () => {
    const { code, stderr, chromium } = preflight({ chromium: false });
    expect(code).toBe(1);
    expect(stderr).toContain(`Chromium (nothing executable at ${chromium})`);
    expect(stderr).toContain('Get it: apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium executable');
    expect(stderr).not.toMatch(/Go|curl|jq|openssl|Node\.js/);
    expect(stderr).toMatch(/Nothing was started\.\n$/);
  });

  it('names Go while the servers are not built, and not once they are', () => {
    const missing = preflight({ tools: ['curl', 'jq', 'openssl'] });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(
      `Go 1.24 or newer (not on PATH): scripts/provision.sh builds the Temporal CLI and FerretDB into ${missing.tools}/bin with it.`,
    );
    expect(missing.stderr).toContain('Get it: Debian 13: apt-get install -y golang-go; elsewhere Go 1.24 or newer from go.dev');

    const old = preflight({ goVersion: '1.19.8' });
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/Go 1\.24 or newer \(\S+\/go is go1\.19\.8\)/);

    expect(preflight({ goVersion: '1.26.8' }).code).toBe(0);
    const built = preflight({ tools: ['curl', 'jq', 'openssl'], serversBuilt: true });
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
  });

  it('names curl, jq and openssl for the docs test, with one command for all that apt can install', () => {
    const { code, stderr } = preflight({ tools: ['go'], chromium: false });
    expect(code).toBe(1);
    for (const tool of ['curl', 'jq', 'openssl']) {
      expect(stderr).toContain(`${tool} (not on PATH): the docs test runs the docs' shell commands with it.`);
      expect(stderr).toContain(`Get it: apt-get install -y ${tool}`);
    }
    expect(stderr).toContain('On Debian, these at once: apt-get update && apt-get install -y chromium curl jq openssl');
  });

  it('names a Node.js outside package.json engines', () => {
    const { engines } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const { code, stderr } = preflight({ nodeVersion: '18.20.4' });
    expect(code).toBe(1);
    expect(stderr).toContain(`Node.js ${engines.node} (this is 18.20.4): package.json engines.`);
    expect(stderr).toContain('Get it: Debian 13: apt-get install -y nodejs npm');
    // The first release of each supported line passes, the last one before it does not.
    for (const version of ['20.19.0', '22.15.0', '24.0.0', '26.10.0']) expect(preflight({ nodeVersion: version }).code).toBe(0);
    for (const version of ['20.18.3', '21.7.3', '22.14.0', '23.11.1']) expect(preflight({ nodeVersion: version }).code).toBe(1);
  });

  it('asks apt for what the README installs, and CI installs with the README command', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const ci = readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    const rest = 'apt-get install -y git chromium curl jq openssl';
    expect(readme).toContain(`\`${rest}\``);
    expect(ci).toContain(`apt-get update && ${rest}`);
    const debian13 = /^apt-get update && apt-get install -y (.+)$/m.exec(readme)![1]!.split(' ');
    const { stderr } = preflight({ tools: [], chromium: false });
    const suggested = /^On Debian, these at once: apt-get update && apt-get install -y (.+)$/m.exec(stderr)![1]!.split(' ');
    expect(suggested).toEqual(['golang-go', 'chromium', 'curl', 'jq', 'openssl']);
    expect(debian13).toEqual(expect.arrayContaining(suggested));
  });

  it('says to run npm ci in a checkout without node_modules', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'preflight-clone-'));
    mkdirSync(path.join(root, 'scripts'));
    copyFileSync(SCRIPT, path.join(root, 'scripts/preflight.sh'));
    copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
    const { code, stderr } = preflight({ root });
    expect(code).toBe(1);
    expect(stderr).toContain('the npm packages (node_modules has no jest): lint, tsc and jest come from them.\n    Get it: npm ci');
  });
});
