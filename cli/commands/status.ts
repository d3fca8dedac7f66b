// `verdant status [--dir DIR] [--json]`: per replica id, pid, role, term, commit and applied index,
// leader (from each replica's control API, GET /v1/status). Exits 1 when a replica is down.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('status')
    .description('show every replica of a local cluster: id, pid, role, term, commit, applied, leader')
    .option('--dir <dir>', 'cluster directory', '.verdant/cluster')
    .option('--json', 'one JSON object per replica (full status), as an array')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const lc = await import('../../runtime/replica/local-cluster.js');
      const m = lc.readManifest(opts.dir);
      const st = await lc.clusterStatus(m);
      const down = st.filter((s) => !s.ok).length;
      if (opts.json) {
        console.log(JSON.stringify(st.map((s) => (s.ok ? { up: true, ...s.status } : { id: s.id, up: false, error: s.error }))));
      } else {
        console.log(`cluster ${m.clusterId} (${m.dir})`);
        console.log('  id  pid      role       term    commit      applied     leader');
        for (const s of st) {
          if (!s.ok) {
            console.log(`  ${String(s.id).padEnd(3)} -        ${s.error}`);
            continue;
          }
          const x = s.status;
          // Multi-Raft: role, term and leader are instance 0's; the global log's commit; which instances this replica leads.
          const mr = (x as { multiraft?: { instances: number; localLeaders: number[] } }).multiraft;
          const extra = mr ? `   R=${mr.instances}, leads instance(s) ${mr.localLeaders.join(',') || 'none'}` : '';
          console.log(`  ${String(s.id).padEnd(3)} ${String(x.pid).padEnd(8)} ${x.role.padEnd(10)} ${String(x.term).padEnd(7)} ${String(x.commit).padEnd(11)} ${String(x.applied).padEnd(11)} ${x.leader || '-'}${extra}`);
        }
      }
      if (down > 0) process.exitCode = 1;
    });
}
