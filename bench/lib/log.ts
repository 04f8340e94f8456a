/** A progress line printer for one benchmark. */
export type Log = (message: string) => void;

/** Prints progress lines prefixed with the benchmark's name and the seconds since start. */
export function createLog(benchmark: string): Log {
  const started = performance.now();
  return (message) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(5);
    console.log(`[${benchmark} ${seconds}s] ${message}`);
  };
}
