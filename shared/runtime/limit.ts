// A concurrency limiter: at most n tasks of this limiter run at once (FIFO).
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

export function createLimit(n: number): Limit {
  if (!Number.isFinite(n) || n < 1) n = 1;
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= n) return;
    const run = queue.shift();
    if (run) {
      active++;
      run();
    }
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        fn().then(resolve, reject).finally(() => {
          active--;
          next();
        });
      });
      next();
    });
}
