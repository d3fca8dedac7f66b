// Child-process helper: discovers RAPL under a root and prints what this process could read.
// Run as an unprivileged user by the EACCES tests.
import { HostPaths } from '../../../controller/sensors/host-paths.js';
import { discoverRapl } from '../../../controller/sensors/rapl.js';

const inv = discoverRapl(new HostPaths(process.argv[2]!));
process.stdout.write(JSON.stringify({ uid: process.getuid?.(), readable: inv.readable, error: inv.error, zones: inv.zones.map((z) => ({ id: z.id, readable: z.energyReadable, error: z.energyError })) }) + '\n');
