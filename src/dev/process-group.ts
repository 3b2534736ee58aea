import type { ChildProcess } from 'node:child_process';

/**
 * A command started in a process group of its own (spawned with `detached: true`): its pid is the
 * group's id. The tests' and the bench's commands both are.
 */
export interface GroupLeader {
  child: Pick<ChildProcess, 'pid'>;
}

/** Whether any process of the command's group is still alive (npm and tsx start children of their own). */
export function groupAlive(proc: GroupLeader): boolean {
  try {
    process.kill(-proc.child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}
