/** `work`'s result, or undefined once `ms` have passed (the work itself goes on). */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
