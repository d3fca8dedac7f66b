// `verdant storage verify DIR [--json]`: recover a replica's store read-only and report what is
// on disk; exits 1 naming file and byte offset when it finds corruption. Changes nothing.
import type { Command } from 'commander';

export function register(program: Command): void {
  const storage = program.command('storage').description("inspect a replica's durable store (WAL, snapshots)");
  storage
    .command('verify')
    .description('verify every WAL record and snapshot checksum read-only and summarise the recovered state')
    .argument('<dir>', 'the store directory (the one holding STORE)')
    .option('--json', 'print the full recovery report and per-group summary as JSON')
    .action(async (dir: string, opts: { json?: boolean }) => {
      const { LogStore } = await import('../../runtime/storage/index.js');
      const warnings: string[] = [];
      const { store, recovered, report } = await LogStore.open(dir, { readOnly: true, onWarning: (m) => warnings.push(m) });
      const groups = recovered.map((g) => ({
        group: g.group,
        term: g.hardState.term,
        vote: g.hardState.vote,
        commit: g.hardState.commit,
        snapshotIndex: g.snapshot?.meta.index ?? 0,
        firstIndex: g.entries[0]?.index ?? null,
        lastIndex: g.entries.at(-1)?.index ?? g.snapshot?.meta.index ?? 0,
        entries: g.entries.length,
      }));
      await store.close();
      if (opts.json) {
        console.log(JSON.stringify({ ok: true, report, groups }, null, 2));
        return;
      }
      console.log(`store ${report.dir}: OK (${report.groups} groups, verified in ${report.durationMs.toFixed(0)} ms)`);
      for (const l of report.lanes) {
        console.log(`  lane ${l.lane}: ${l.segments} segments, ${l.batches} batches, ${l.records} records${l.tornTail ? `, torn tail at byte ${l.tornTail.offset} of ${l.tornTail.file} (would be cut on open)` : ''}`);
      }
      for (const s of report.snapshots) console.log(`  snapshot of group ${s.group}: ${s.file} (${s.bytes} bytes)`);
      for (const g of groups) {
        console.log(`  group ${g.group}: term ${g.term} vote ${g.vote} commit ${g.commit}, snapshot at ${g.snapshotIndex}, entries ${g.firstIndex ?? '-'}..${g.lastIndex} (${g.entries})`);
      }
      for (const w of warnings) console.log(`  warning: ${w}`);
    });
}
