/**
 * The processes a benchmark starts (the ingress and the workers as `npm run …` commands, each in a
 * process group of its own), their stop, and what /proc says about them: CPU time and resident
 * memory. Used by bench/workers.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { groupAlive } from '../src/dev/process-group';
import { f2, sleep } from './report';

export const ROOT = path.resolve(__dirname, '..');
const STOP_MS = 60_000;

/** A command run as a user would, in its own process group; the tail of its output is kept for error messages. */
export interface Proc {
  name: string;
  child: ChildProcess;
  tail: () => string;
  saw: (text: string) => boolean;
}

const procs = new Set<Proc>();

export function startProc(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, watch: string[] = []): Proc {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const seen = new Set<string>();
  const onData = (chunk: Buffer) => {
    const text = tail.slice(-200) + chunk.toString();
    for (const w of watch) if (text.includes(w)) seen.add(w);
    tail = (tail + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const proc: Proc = { name, child, tail: () => tail, saw: (text) => seen.has(text) };
  procs.add(proc);
  child.once('exit', () => procs.delete(proc));
  return proc;
}

function signalGroup(proc: Proc, signal: NodeJS.Signals) {
  try {
    process.kill(-proc.child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Polls `check` until it returns true; throws `what` with `detail()` when the deadline passes. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail: () => string = () => '') {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${timeoutMs / 1000} s${detail() ? `\n${detail()}` : ''}`);
    await sleep(250);
  }
}

/** SIGTERM to the whole group, as a supervisor stops a deployment, then waits for every process of it to exit. */
export async function stopGracefully(proc: Proc) {
  signalGroup(proc, 'SIGTERM');
  await until(
    `${proc.name} stopping after SIGTERM`,
    STOP_MS,
    () => !groupAlive(proc),
    () => proc.tail().slice(-2000),
  );
  procs.delete(proc);
}

/** Last resort, synchronous (also from process.on('exit')): every process group this bench started. */
export function killAll() {
  for (const proc of procs) signalGroup(proc, 'SIGKILL');
  procs.clear();
}

// CPU time and memory from /proc (Linux): clock ticks of the machine, of process groups and of single processes.
const TICKS = 100; // USER_HZ, 100 on Linux
const procStat = (pid: string) => {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return {
      pid: Number(pid),
      comm: raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')),
      ppid: Number(f[1]),
      pgrp: Number(f[2]),
      ticks: Number(f[11]) + Number(f[12]),
    };
  } catch {
    return undefined;
  }
};
const allStats = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(procStat)
    .filter((s): s is NonNullable<typeof s> => !!s);
/** The machine's ticks: user, nice, system, idle, iowait, irq, softirq, steal (guest time is inside user). */
const machineTicks = () => {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = fields.slice(0, 8).map(Number);
  return { total: n.reduce((a, b) => a + b, 0), idle: n[3]! + (n[4] ?? 0), iowait: n[4] ?? 0, steal: n[7] ?? 0 };
};

export interface CpuSample {
  machine: ReturnType<typeof machineTicks>;
  byPart: Map<string, number>;
}

/** CPU seconds so far of each part: each process group given (workers, the ingress), Temporal, FerretDB, this process. */
export function sampleCpu(groups: Proc[], benchLabel = 'bench (sandbox, Slack stand-in)'): CpuSample | undefined {
  try {
    const stats = allStats();
    const group = (proc: Proc) => stats.filter((s) => s.pgrp === proc.child.pid).reduce((sum, s) => sum + s.ticks, 0) / TICKS;
    const child = (comm: string) => stats.filter((s) => s.ppid === process.pid && s.comm === comm).reduce((sum, s) => sum + s.ticks, 0) / TICKS;
    const self = process.cpuUsage();
    const byPart = new Map<string, number>();
    groups.forEach((g) => byPart.set(g.name, group(g)));
    byPart.set('Temporal', child('temporal'));
    byPart.set('FerretDB', child('ferretdb'));
    byPart.set(benchLabel, (self.user + self.system) / 1e6);
    return { machine: machineTicks(), byPart };
  } catch {
    return undefined; // not Linux: no CPU figures
  }
}

/** Cores each part kept busy between two samples, and the whole machine's (other users included). */
export function cpuBetween(a: CpuSample | undefined, b: CpuSample | undefined, seconds: number): string {
  if (!a || !b) return 'CPU not measured (no /proc)';
  const machineTotal = b.machine.total - a.machine.total;
  const cores = (ticks: number) => (machineTotal > 0 ? (ticks / machineTotal) * os.cpus().length : NaN);
  const busy = cores(machineTotal - (b.machine.idle - a.machine.idle));
  const parts = [...b.byPart].map(([name, t]) => `${name} ${f2((t - (a.byPart.get(name) ?? 0)) / seconds)}`);
  const ours = [...b.byPart].reduce((sum, [name, t]) => sum + (t - (a.byPart.get(name) ?? 0)), 0) / seconds;
  const vm = `; steal ${f2(cores(b.machine.steal - a.machine.steal))} (taken by the hypervisor, counted busy), iowait ${f2(cores(b.machine.iowait - a.machine.iowait))} (counted idle)`;
  return `cores busy: machine ${f2(busy)} of ${os.cpus().length} (${parts.join(', ')}; everything else ${f2(busy - ours)}${vm})`;
}

/** CPU milliseconds each part spent per event between two samples (empty without /proc). */
export function cpuPerEvent(a: CpuSample | undefined, b: CpuSample | undefined, events: number): Map<string, number> {
  if (!a || !b || events <= 0) return new Map();
  return new Map([...b.byPart].map(([name, t]) => [name, ((t - (a.byPart.get(name) ?? 0)) * 1000) / events]));
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
};

/** VmRSS of one process in bytes (0 once it is gone). */
const vmRss = (pid: number) => {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
};

export interface GroupMemory {
  /** VmRSS of the service's own Node process (the one tsx starts with its loader) and of its descendants. */
  service: number;
  /** Its pid and node flags (besides tsx's loader), for the report. */
  pid: number;
  flags: string[];
  /** How many processes `service` sums: the Node process and the children it spawned. */
  processes: number;
  /** VmRSS of the wrappers in front of it: npm, sh, the tsx command and the esbuild service tsx starts. */
  wrappers: number;
}

/**
 * Resident memory of a process group started as `npm run …`: npm → sh → the tsx command (node) →
 * the service's node process (`node --require …/tsx/dist/preflight.cjs --import …/loader.mjs
 * src/bin/….ts`). The service is that last process with everything it spawns; the rest are the
 * wrappers, reported apart (a deployment runs the compiled service without them).
 */
export function groupMemory(proc: Proc): GroupMemory | undefined {
  let stats: ReturnType<typeof allStats>;
  try {
    stats = allStats();
  } catch {
    return undefined;
  }
  const group = stats.filter((s) => s.pgrp === proc.child.pid);
  const root = group.find((s) => cmdline(s.pid).some((arg) => arg.includes('tsx/dist/loader')));
  if (!root) return undefined;
  const inService = new Set([root.pid]);
  // Descendants, wherever they are (a child may start a process group of its own).
  for (let grew = true; grew;) {
    grew = false;
    for (const s of stats)
      if (!inService.has(s.pid) && inService.has(s.ppid)) {
        inService.add(s.pid);
        grew = true;
      }
  }
  const args = cmdline(root.pid);
  const flags: string[] = [];
  for (let i = 1; i < args.length && args[i]!.startsWith('-'); i++) {
    if (args[i] === '--require' || args[i] === '--import') i++;
    else flags.push(args[i]!);
  }
  return {
    service: [...inService].reduce((sum, pid) => sum + vmRss(pid), 0),
    pid: root.pid,
    flags,
    processes: inService.size,
    wrappers: group.filter((s) => !inService.has(s.pid)).reduce((sum, s) => sum + vmRss(s.pid), 0),
  };
}

export const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : '–');
