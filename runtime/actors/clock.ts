// One monotonic clock for every thread of the process (CLOCK_MONOTONIC via hrtime), so deadlines
// and pause measurements stay meaningful when an actor moves between threads.
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
