import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** A command the tests run as a user would, in its own process group, its output collected. */
export interface Proc {
  child: ChildProcess;
  output: () => string;
}

export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Proc {
  let output = '';
  const child = spawn(command, args, { cwd, env, detached: true });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return { child, output: () => output };
}

/**
 * Signals the whole process group, as a terminal's Ctrl-C (SIGINT) or a supervisor (SIGTERM) does,
 * and resolves with the group leader's exit code (null when a signal ended it).
 */
export async function signalGroup(proc: Proc, signal: NodeJS.Signals): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.child.exitCode;
  const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
  process.kill(-proc.child.pid!, signal);
  return exited;
}
