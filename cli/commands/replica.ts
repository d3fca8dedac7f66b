// `verdant replica --config FILE`: run one replica in the foreground (multi-host deployments, and
// what `verdant cluster up` starts per replica). SIGTERM/SIGINT stop it cleanly: clients and peers
// are disconnected, pending WAL appends finish, the store is closed.
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('replica')
    .description('run one replica of a cluster (see docs/replica.md for the config file)')
    .requiredOption('--config <file>', 'replica config (JSON or YAML); unknown keys and bad values exit 2 naming the field')
    .option('--check', 'validate the config file and the files it names (secret, tokens, TLS), then exit')
    .action(async (opts: { config: string; check?: boolean }) => {
      const { loadReplicaConfig } = await import('../../runtime/replica/config.js');
      const cfg = await loadReplicaConfig(opts.config);
      if (opts.check) {
        const { readReplicaFiles } = await import('../../runtime/replica/replica-files.js');
        const files = readReplicaFiles(cfg);
        const tls = files.tls ? `, peer TLS as ${files.tls.commonName} until ${files.tls.validTo}${files.tls.clientPort ? ', client port TLS' : ''}` : '';
        console.log(`${opts.config}: OK (replica ${cfg.id} of ${cfg.members.length}, cluster ${cfg.clusterId}${tls})`);
        return;
      }
      const { default: pino } = await import('pino');
      // Synchronous: logging is off the hot path, and a crashed replica must not lose its last lines.
      const log = pino({ level: cfg.log.level, base: { replica: cfg.id } }, pino.destination({ fd: 2, sync: true }));
      const { startReplica } = await import('../../runtime/replica/replica.js');
      let replica;
      try {
        replica = await startReplica(cfg, log);
      } catch (e) {
        log.flush();
        throw e;
      }
      const onSignal = (sig: string) => {
        log.info({ signal: sig }, 'stopping');
        void replica.stop();
      };
      process.once('SIGTERM', () => onSignal('SIGTERM'));
      process.once('SIGINT', () => onSignal('SIGINT'));
      const { fatal } = await replica.stopped;
      log.info({ fatal }, 'stopped');
      log.flush();
      process.exitCode = fatal === null ? 0 : 1;
      // Anything left (a timer of a library) must not keep a stopped replica alive.
      setTimeout(() => process.exit(process.exitCode), 500).unref();
    });
}
