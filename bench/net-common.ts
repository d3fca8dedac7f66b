// Constants shared by the net benchmark and its receiver process.
export const BENCH_CLUSTER = 'bench';
export const BENCH_SECRET = 'bench-secret-0123456789abcdef';
