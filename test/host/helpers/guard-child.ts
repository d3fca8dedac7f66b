// Child-process helper for the restore-on-exit tests: caps the RAPL limit of a fixture tree under
// a RestoreGuard, prints "applied", then dies the way the test asks once the parent says go.
import { HostPaths } from '../../../controller/sensors/host-paths.js';
import { RaplLimitActuator } from '../../../controller/actuators/rapl-limit.js';
import { RestoreGuard } from '../../../controller/actuators/restore-guard.js';

const [root, mode] = process.argv.slice(2) as [string, 'throw' | 'reject' | 'wait' | 'exit'];
const guard = new RestoreGuard({ log: (l) => console.log(l) });
const a = new RaplLimitActuator({ paths: new HostPaths(root) });
guard.add(a);
await a.apply(30);
console.log('applied');
// Fail only after the parent has read the capped value (it writes a line to our stdin), so the
// test never races the restore it is checking.
setInterval(() => {}, 1000);
process.stdin.once('data', () => {
  if (mode === 'throw') throw new Error('boom');
  else if (mode === 'reject') void Promise.reject(new Error('boom-rejection'));
  else if (mode === 'exit') process.exit(3);
});
