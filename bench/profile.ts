/**
 * The bench process's own CPU profile of one measured window (BENCH_CPU_PROFILE=<dir>): where the
 * main thread's time goes, by package, so two sides of a phase can be compared per event. The
 * workflow threads are not in it (each has an isolate of its own); Temporal and FerretDB are
 * separate processes (bench/procs.ts counts their CPU).
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = path.resolve(__dirname, '..');

/** What a sample's function belongs to: an npm package, Node's own code, V8's pseudo-frames, or a folder of ours. */
function groupOf({ functionName, url }: ProfileNode['callFrame']): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + '/node_modules/'.length).split('/');
    return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
  }
  if (url.startsWith('node:')) return 'node: internals';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const relative = path.relative(ROOT, file);
  return relative.startsWith('..') ? '(other)' : path.dirname(relative);
}

/** Self time (ms) by group, idle left out. */
function selfTimeByGroup(profile: Profile): Map<string, number> {
  const groups = new Map(profile.nodes.map((n) => [n.id, groupOf(n.callFrame)]));
  const ms = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const group = groups.get(id)!;
    if (group === '(idle)') return;
    ms.set(group, (ms.get(group) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return ms;
}

/** Runs `fn` under the CPU profiler when `dir` is given, and writes `<dir>/<name>.cpuprofile`; the self time by group, or undefined. */
export async function profiled<T>(dir: string | undefined, name: string, fn: () => Promise<T>): Promise<{ result: T; groups?: Map<string, number> }> {
  if (!dir) return { result: await fn() };
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const result = await fn();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    return { result, groups: selfTimeByGroup(profile) };
  } finally {
    session.disconnect();
  }
}

/** Adds up the self times of several profiles. */
export function sumGroups(maps: Map<string, number>[]): Map<string, number> {
  const sum = new Map<string, number>();
  for (const m of maps) for (const [g, ms] of m) sum.set(g, (sum.get(g) ?? 0) + ms);
  return sum;
}

/** Markdown rows: each group's milliseconds per event on both sides, the largest differences first. */
export function profileRows(a: Map<string, number>, b: Map<string, number>, events: number, top = 15): string[] {
  const groups = [...new Set([...a.keys(), ...b.keys()])];
  const per = (m: Map<string, number>, g: string) => (m.get(g) ?? 0) / events;
  return groups
    .map((g) => ({ g, a: per(a, g), b: per(b, g) }))
    .sort((x, y) => y.a - y.b - (x.a - x.b))
    .slice(0, top)
    .map(({ g, a: x, b: y }) => `| ${g} | ${x.toFixed(2)} ms | ${y.toFixed(2)} ms | ${(x - y).toFixed(2)} ms |`);
}
