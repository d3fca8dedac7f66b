// ActorRuntime: the coordinator on the main thread. It owns the worker-thread executors, the
// directory of actors, and carries out plans (start/stop executors, pin them, migrate actors).
// Executor 0 is the main thread itself. All structural operations (spawn, stop, apply) run one
// at a time; message traffic never waits for the coordinator.
import { MessageChannel, Worker } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import { monoMs } from './clock.js';
import { defineActor, kindName, loadDefinition } from './define.js';
import { ExecutorCore, isInternalId } from './executor.js';
import type { BatchCodec, LocalFactory } from './executor.js';
import { currentTid, onlineCpus, parseCpuList, pinCurrentThread, probePinning, readCpusAllowed } from './pinning.js';
import { PlanError, validatePlan } from './plan.js';
import type {
  Actor,
  ActorContext,
  ActorDefinition,
  ActorId,
  ActorKind,
  ActorOptions,
  ActorStats,
  ExecutorInfo,
  ExecutorStats,
  FaultReport,
  MigrationRecord,
  PinningCapability,
  RuntimeStats,
  SpawnSpec,
  Topology,
  Transfer,
} from './types.js';
import type { CtlEvent, CtlRequest, InfoReply, PinReply, StatsReply, WorkerInbound, WorkerOutbound } from './wire.js';

export interface RuntimeOptions {
  /** Worker-thread executors to start with (default 0: everything on the main thread). */
  readonly workers?: number;
  /** Initial CPU set per executor index, as in Plan.cpus. */
  readonly cpus?: Readonly<Record<string, readonly number[] | null>>;
  /**
   * Called when an actor faults or a worker thread dies. Default: print the report to stderr and
   * shut the process down with exit code 70 (fail-stop).
   */
  readonly onFault?: (report: FaultReport) => void;
  /**
   * How message batches cross threads (default `clone`). `msgpack` is faster for plain-data
   * messages; see BatchCodec for what it does not preserve.
   */
  readonly codec?: BatchCodec;
  /** How many migration records stats() keeps (default 1024). */
  readonly migrationHistory?: number;
}

export interface ApplyResult {
  readonly version: number;
  readonly started: readonly number[];
  readonly stopped: readonly number[];
  readonly moved: readonly MigrationRecord[];
  readonly pinned: readonly { readonly executor: number; readonly ok: boolean; readonly cpusAllowed: string | null; readonly error?: string }[];
  readonly durationMs: number;
}

interface ActorEntry {
  readonly idx: number;
  readonly id: ActorId;
  readonly kind: ActorKind | null;
  readonly pinnedMain: boolean;
  executor: number;
}

interface WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  info: InfoReply;
  exited: boolean;
}

interface ExecState {
  cpus: readonly number[] | null;
  pinned: boolean;
  pinError?: string;
}

const EXTERNAL_ID = '$external';
const LOCAL_MODULE = '';
const WORKER_URL = new URL('./worker-main.js', import.meta.url);

export class ActorRuntime {
  private readonly main: ExecutorCore;
  private readonly workers = new Map<number, WorkerHandle>();
  private readonly execState = new Map<number, ExecState>();
  private readonly actors = new Map<ActorId, ActorEntry>();
  private readonly byIdx = new Map<number, ActorEntry>();
  private readonly locals = new Map<number, LocalFactory>();
  private readonly adoptWaiters = new Map<number, (pauseMs: number) => void>();
  private readonly migrations: MigrationRecord[] = [];
  private migrationsTotal = 0;
  private faultsTotal = 0;
  private nextIdx = 0;
  private nextRid = 1;
  private nextAsk = 1;
  private version = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly onFault: (r: FaultReport) => void;

  /** The main thread's CPU set before any plan touched it; restored by stop(). */
  private readonly mainCpusAtStart: string | null;
  private mainPinTouched = false;

  private constructor(
    private readonly mainTid: number | null,
    private readonly pinning: PinningCapability,
    private readonly online: readonly number[],
    private readonly opts: RuntimeOptions,
  ) {
    this.onFault = opts.onFault ?? ((r) => this.failStop(r));
    this.main = new ExecutorCore(0, mainTid, {
      emit: (ev) => this.onEvent(ev),
      localFactory: (idx) => this.locals.get(idx),
    }, opts.codec ?? 'clone');
    this.execState.set(0, { cpus: null, pinned: false });
    this.mainCpusAtStart = readCpusAllowed(mainTid);
  }

  /** Starts a runtime with `opts.workers` worker executors, pinned as `opts.cpus` asks. */
  static async start(opts: RuntimeOptions = {}): Promise<ActorRuntime> {
    const rt = new ActorRuntime(await currentTid(), await probePinning(), onlineCpus(), opts);
    await rt.spawnLocalUnlocked(EXTERNAL_ID, () => ({ receive() {} }), { pinned: 'main' });
    if ((opts.workers ?? 0) > 0 || opts.cpus) await rt.apply({ workers: opts.workers ?? 0, ...(opts.cpus ? { cpus: opts.cpus } : {}) });
    return rt;
  }

  capability(): PinningCapability {
    return this.pinning;
  }

  get workerCount(): number {
    return this.workers.size;
  }

  // ---------------------------------------------------------------- actors

  /** Creates an actor from a module-defined kind on `spec.executor` (default 0). */
  spawn<A>(spec: SpawnSpec<A>): Promise<void> {
    return this.serial(async () => {
      this.checkRunning();
      if (typeof spec.id !== 'string' || spec.id === '') throw new Error('actor id must be a non-empty string');
      if (isInternalId(spec.id)) throw new Error(`actor id '${spec.id}': ids starting with '$' are reserved for the runtime`);
      if (this.actors.has(spec.id)) throw new Error(`actor '${spec.id}' already exists`);
      const def = await loadDefinition(spec.kind);
      const executor = spec.executor ?? 0;
      if (!this.executorExists(executor)) throw new Error(`executor ${executor} does not exist (executors are 0..${this.workers.size})`);
      const pinnedMain = def.options.pinned === 'main';
      if (pinnedMain && executor !== 0) throw new Error(`actor kind ${kindName(spec.kind)} is pinned to the main thread`);
      try {
        structuredClone(spec.args);
      } catch (err) {
        throw new Error(`actor '${spec.id}': args must be structured-cloneable: ${err instanceof Error ? err.message : String(err)}`);
      }
      await this.install({ idx: this.nextIdx++, id: spec.id, kind: spec.kind, pinnedMain, executor }, spec);
    });
  }

  /**
   * Creates an actor on the main thread from an inline factory. It can never move; use it for
   * actors that own sockets or other thread-bound resources, and for glue code.
   */
  spawnLocal<M = unknown>(id: ActorId, create: (ctx: ActorContext<M>) => Actor<M>, options: Omit<ActorOptions, 'pinned'> = {}): Promise<void> {
    return this.serial(() => this.spawnLocalUnlocked(id, create as (ctx: ActorContext) => Actor, { ...options, pinned: 'main' }));
  }

  private async spawnLocalUnlocked(id: ActorId, create: (ctx: ActorContext) => Actor, options: ActorOptions): Promise<void> {
    this.checkRunning();
    if (this.actors.has(id)) throw new Error(`actor '${id}' already exists`);
    const idx = this.nextIdx++;
    const def: ActorDefinition = defineActor((ctx) => create(ctx), options);
    this.locals.set(idx, { create, def });
    await this.install({ idx, id, kind: null, pinnedMain: true, executor: 0 }, { id, kind: { module: LOCAL_MODULE, export: id } });
  }

  private async install(entry: ActorEntry, spec: SpawnSpec): Promise<void> {
    const dir: CtlRequest = { t: 'dir', entries: [{ idx: entry.idx, id: entry.id, executor: entry.executor }] };
    await Promise.all(this.executorIndices().map((e) => this.call(e, dir)));
    this.actors.set(entry.id, entry);
    this.byIdx.set(entry.idx, entry);
    try {
      await this.call(entry.executor, { t: 'create', idx: entry.idx, spec });
    } catch (err) {
      await this.forget(entry);
      throw new Error(`actor '${entry.id}' failed to start: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Stops actor `id`; messages still on their way to it become dead letters. */
  stopActor(id: ActorId): Promise<void> {
    return this.serial(async () => {
      const a = this.actors.get(id);
      if (!a || id === EXTERNAL_ID) throw new Error(`unknown actor '${id}'`);
      await this.call(a.executor, { t: 'stop', idx: a.idx });
      await this.forget(a);
    });
  }

  private async forget(a: ActorEntry): Promise<void> {
    if (this.byIdx.get(a.idx) !== a) return;
    this.actors.delete(a.id);
    this.byIdx.delete(a.idx);
    this.locals.delete(a.idx);
    await Promise.all(this.executorIndices().map((e) => this.call(e, { t: 'gone', idx: [a.idx] }).catch(() => undefined)));
  }

  /** Sends `msg` to actor `to` from outside any actor (sender id `$external`, FIFO per call order). */
  send(to: ActorId, msg: unknown, transfer?: readonly Transfer[]): void {
    this.checkRunning();
    this.main.sendFrom(0, to, msg, transfer);
  }

  /**
   * Request/response from outside: `build(replyTo)` makes the message; the first message sent to
   * `replyTo` resolves the promise.
   */
  async ask<R = unknown>(to: ActorId, build: (replyTo: ActorId) => unknown, timeoutMs = 5000): Promise<R> {
    const replyTo = `$ask/${this.nextAsk++}`;
    let resolve!: (v: R) => void;
    const got = new Promise<R>((r) => (resolve = r));
    await this.spawnLocal(replyTo, (ctx) => ({
      receive(msg) {
        resolve(msg as R);
        ctx.stopSelf();
      },
    }));
    this.send(to, build(replyTo));
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        got,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`ask ${to}: no reply within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      const a = this.actors.get(replyTo);
      if (a) await this.serial(() => this.forget(a)).catch(() => undefined);
    }
  }

  /** Where actor `id` lives now, or undefined. */
  executorOf(id: ActorId): number | undefined {
    return this.actors.get(id)?.executor;
  }

  // ---------------------------------------------------------------- plans

  /**
   * Applies a plan: starts missing executors, pins executors, migrates actors while messages keep
   * flowing, then stops executors the plan removes. Throws PlanError (and changes nothing) when the
   * plan is invalid.
   */
  apply(input: unknown): Promise<ApplyResult> {
    return this.serial(() => this.applyUnlocked(input));
  }

  private async applyUnlocked(input: unknown): Promise<ApplyResult> {
    this.checkRunning();
    const t0 = monoMs();
    const cur = new Map([...this.actors].filter(([id]) => !isInternalId(id)).map(([id, a]) => [id, { executor: a.executor, pinnedMain: a.pinnedMain }] as const));
    const plan = validatePlan(input, { workers: this.workers.size, actors: cur, onlineCpus: this.online });
    const started: number[] = [];
    // 0. Worker threads that died: survivors drop their links to them; those the plan keeps are
    //    started afresh at the same index (their actors are gone already), the rest are removed.
    for (const [i, h] of [...this.workers]) {
      if (!h.exited) continue;
      await Promise.all(this.executorIndices().map((e) => this.call(e, { t: 'unlink', peer: i })));
      this.workers.delete(i);
      this.execState.delete(i);
      if (i <= plan.workers) {
        const cpus = plan.cpus.has(i) ? plan.cpus.get(i)! : null;
        await this.startWorker(i, cpus, cpus ?? (this.mainPinTouched ? this.unpinnedCpus() : null));
        started.push(i);
      }
    }
    const oldCount = this.workers.size;
    const pinned: { executor: number; ok: boolean; cpusAllowed: string | null; error?: string }[] = [];

    // 1. Start new executors, each pinning itself before it takes any actor.
    for (let i = oldCount + 1; i <= plan.workers; i++) {
      const cpus = plan.cpus.has(i) ? plan.cpus.get(i)! : null;
      // An unpinned worker would inherit the main thread's mask, which a plan may have narrowed.
      const pin = await this.startWorker(i, cpus, cpus ?? (this.mainPinTouched ? this.unpinnedCpus() : null));
      started.push(i);
      if (plan.cpus.has(i)) pinned.push({ executor: i, ok: pin.ok, cpusAllowed: pin.cpusAllowed, ...(pin.error ? { error: pin.error } : {}) });
    }
    // 2. Re-pin surviving executors whose CPU set changes.
    for (const [e, cpus] of plan.cpus) {
      if (e > oldCount || e > plan.workers) continue;
      if (e === 0) this.mainPinTouched = true;
      const r = (await this.call(e, { t: 'pin', cpus: cpus ?? this.unpinnedCpus() })) as PinReply;
      this.execState.set(e, { cpus, pinned: r.ok && cpus !== null, ...(r.error ? { pinError: r.error } : {}) });
      pinned.push({ executor: e, ok: r.ok, cpusAllowed: r.cpusAllowed, ...(r.error ? { error: r.error } : {}) });
    }
    // 3. Migrate, all actors concurrently.
    const moved = (await Promise.all([...plan.moves].map(([id, to]) => this.migrate(id, to)))).filter((m): m is MigrationRecord => m !== null);
    if (moved.length > 0) {
      const route: CtlRequest = { t: 'route', entries: moved.map((m) => [this.actors.get(m.actor)?.idx ?? -1, m.to] as const).filter(([i]) => i >= 0) };
      await Promise.all(this.executorIndices().map((e) => this.call(e, route)));
    }
    // 4. Stop executors the plan removes, once every message on its way through them is out.
    const stopped: number[] = [];
    if (plan.workers < oldCount) {
      const doomed: number[] = [];
      for (let i = plan.workers + 1; i <= oldCount; i++) doomed.push(i);
      await this.retire(doomed);
      stopped.push(...doomed);
    }
    this.version++;
    return { version: this.version, started, stopped, moved, pinned, durationMs: monoMs() - t0 };
  }

  private async migrate(id: ActorId, to: number): Promise<MigrationRecord | null> {
    const a = this.actors.get(id);
    if (!a) return null;
    const from = a.executor;
    await this.call(to, { t: 'expect', idx: a.idx, kind: a.kind });
    const adopted = new Promise<number>((resolve) => this.adoptWaiters.set(a.idx, resolve));
    const ok = (await this.call(from, { t: 'migrate', idx: a.idx, to })) as boolean;
    if (!ok) {
      // The actor stopped (fault or stopSelf) before it could leave.
      this.adoptWaiters.delete(a.idx);
      await this.forget(a);
      return null;
    }
    const pauseMs = await adopted;
    a.executor = to;
    const rec: MigrationRecord = { actor: id, from, to, pauseMs };
    this.migrationsTotal++;
    this.migrations.push(rec);
    const keep = this.opts.migrationHistory ?? 1024;
    if (this.migrations.length > keep) this.migrations.splice(0, this.migrations.length - keep);
    return rec;
  }

  private async retire(doomed: readonly number[]): Promise<void> {
    const all = this.executorIndices();
    const survivors = all.filter((e) => !doomed.includes(e));
    // Everyone promises the doomed executors to send them nothing more ...
    await Promise.all(all.flatMap((x) => doomed.filter((d) => d !== x).map((d) => this.call(x, { t: 'fin-to', peer: d }))));
    // ... each doomed executor forwards whatever it still got, then says goodbye to survivors ...
    await Promise.all(
      doomed.map(async (d) => {
        await this.call(d, { t: 'await-fins', from: all.filter((x) => x !== d) });
        await Promise.all(survivors.map((s) => this.call(d, { t: 'fin-to', peer: s })));
      }),
    );
    // ... and survivors close their links once the goodbye (and all before it) has arrived.
    await Promise.all(
      survivors.map(async (s) => {
        await this.call(s, { t: 'await-fins', from: doomed });
        for (const d of doomed) await this.call(s, { t: 'unlink', peer: d });
      }),
    );
    for (const d of doomed) {
      const w = this.workers.get(d)!;
      w.exited = true;
      this.workers.delete(d);
      this.execState.delete(d);
      await w.worker.terminate();
    }
  }

  /**
   * What unpinning restores: the CPU set the process had when the runtime started (a process
   * started under taskset or in a cpuset keeps those limits), else every online CPU.
   */
  private unpinnedCpus(): readonly number[] | null {
    const start = this.mainCpusAtStart ? parseCpuList(this.mainCpusAtStart) : [];
    return start.length > 0 ? start : null;
  }

  /** `cpus` is the plan's set for the executor (null: unpinned); `pinTo` what the thread is set to. */
  private async startWorker(index: number, cpus: readonly number[] | null, pinTo: readonly number[] | null = cpus): Promise<PinReply> {
    const worker = new Worker(WORKER_URL, { workerData: { index, cpus: pinTo, pin: pinTo !== null, codec: this.opts.codec ?? 'clone' } });
    const handle: WorkerHandle = { index, worker, pending: new Map(), info: { index, threadId: worker.threadId, tid: null, cpusAllowed: null, actors: [] }, exited: false };
    const ready = new Promise<InfoReply & { pin: PinReply }>((resolve, reject) => {
      worker.on('message', (m: WorkerOutbound) => {
        if ('ready' in m) resolve(m.ready);
        else if ('ev' in m) this.onEvent(m.ev);
        else {
          const p = handle.pending.get(m.rid);
          if (!p) return;
          handle.pending.delete(m.rid);
          if (m.ok) p.resolve(m.value);
          else p.reject(new Error(`executor ${index}: ${m.error}`));
        }
      });
      worker.on('error', (err) => {
        reject(err);
        this.onWorkerDeath(handle, err);
      });
      worker.on('exit', (code) => {
        reject(new Error(`executor ${index} exited with code ${code} while starting`));
        this.onWorkerDeath(handle, new Error(`worker thread exited with code ${code}`));
      });
    });
    const r = await ready;
    handle.info = r;
    this.workers.set(index, handle);
    this.execState.set(index, { cpus, pinned: r.pin.ok && cpus !== null, ...(cpus !== null && r.pin.error ? { pinError: r.pin.error } : {}) });
    // Directory, then one link to every other executor.
    const entries = [...this.byIdx.values()].map((a) => ({ idx: a.idx, id: a.id, executor: a.executor }));
    await this.call(index, { t: 'dir', entries });
    for (const e of this.executorIndices()) {
      if (e === index) continue;
      const { port1, port2 } = new MessageChannel();
      await this.call(e, { t: 'link', peer: index, port: port1 }, [port1]);
      await this.call(index, { t: 'link', peer: e, port: port2 }, [port2]);
    }
    return r.pin;
  }

  private onWorkerDeath(h: WorkerHandle, err: Error): void {
    if (h.exited) return;
    h.exited = true;
    for (const p of h.pending.values()) p.reject(new Error(`executor ${h.index} died: ${err.message}`));
    h.pending.clear();
    if (this.stopped || this.workers.get(h.index) !== h) return;
    const lostEntries = [...this.actors.values()].filter((a) => a.executor === h.index);
    const lost = lostEntries.map((a) => a.id);
    this.faultsTotal++;
    // Its actors are gone: sends to them become dead letters everywhere instead of queueing for a
    // thread that will never read them.
    for (const a of lostEntries) void this.forget(a);
    this.onFault({ kind: 'executor', actor: lost[0] ?? '', actors: lost, executor: h.index, error: err.message, ...(err.stack ? { stack: err.stack } : {}), action: 'stopped' });
  }

  // ---------------------------------------------------------------- observation

  async topology(): Promise<Topology> {
    const executors: ExecutorInfo[] = [];
    for (const e of this.executorIndices()) {
      let info: InfoReply;
      try {
        info = (await this.call(e, { t: 'info' })) as InfoReply;
      } catch {
        continue; // retired while we asked
      }
      const st = this.execState.get(e) ?? { cpus: null, pinned: false };
      executors.push({
        index: e,
        threadId: info.threadId,
        tid: info.tid,
        cpus: st.cpus,
        cpusAllowed: info.cpusAllowed,
        pinned: st.pinned,
        actors: info.actors.map((i) => this.byIdx.get(i)?.id).filter((x): x is string => x !== undefined),
      });
    }
    const actors: Record<string, { executor: number; kind: string; pinned: boolean }> = {};
    for (const a of this.actors.values()) {
      if (isInternalId(a.id)) continue;
      actors[a.id] = { executor: a.executor, kind: a.kind ? kindName(a.kind) : 'local', pinned: a.pinnedMain };
    }
    return { pid: process.pid, onlineCpus: this.online, pinning: this.pinning, executors, actors, planVersion: this.version };
  }

  async stats(): Promise<RuntimeStats> {
    const executors: ExecutorStats[] = [];
    const actors: ActorStats[] = [];
    for (const e of this.executorIndices()) {
      try {
        const s = (await this.call(e, { t: 'stats' })) as StatsReply;
        executors.push(s.executor);
        actors.push(...s.actors);
      } catch {
        /* retired while we asked */
      }
    }
    return { at: Date.now(), executors, actors, migrations: { total: this.migrationsTotal, recent: [...this.migrations] }, faults: this.faultsTotal };
  }

  /** Stops every executor and actor. The runtime cannot be used afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.chain.catch(() => undefined);
    this.stopped = true;
    for (const w of this.workers.values()) {
      w.exited = true;
      await w.worker.terminate();
    }
    this.workers.clear();
    this.main.shutdown();
    // Worker threads die with their affinity; the main thread lives on, so put it back.
    if (this.mainPinTouched && this.mainCpusAtStart) await pinCurrentThread(parseCpuList(this.mainCpusAtStart), this.mainTid);
  }

  // ---------------------------------------------------------------- internals

  private onEvent(ev: CtlEvent): void {
    if (ev.t === 'adopted') {
      const w = this.adoptWaiters.get(ev.idx);
      this.adoptWaiters.delete(ev.idx);
      w?.(ev.pauseMs);
      return;
    }
    this.faultsTotal++;
    if (ev.report.action === 'stopped') {
      const a = this.byIdx.get(ev.idx);
      if (a) void this.serial(() => this.forget(a)).catch(() => undefined);
    }
    this.onFault(ev.report);
  }

  private failStop(r: FaultReport): void {
    if (r.action === 'restarted') {
      process.stderr.write(`verdant actors: actor '${r.actor}' on executor ${r.executor} threw and was restarted: ${r.error}\n`);
      return;
    }
    process.stderr.write(
      `verdant actors: fatal ${r.kind} fault (${r.kind === 'actor' ? `actor '${r.actor}'` : `actors ${JSON.stringify(r.actors ?? [])}`} on executor ${r.executor}): ${r.error}\n${r.stack ?? ''}\n` +
        'verdant actors: stopping the process (exit code 70); pass onFault to handle faults yourself\n',
    );
    process.exitCode = 70;
    const timer = setTimeout(() => process.exit(70), 2000);
    timer.unref();
    void this.stop().finally(() => process.exit(70));
  }

  /** Running executors (a worker thread that died is left out until a plan replaces it). */
  private executorIndices(): number[] {
    const live: number[] = [];
    for (const [i, h] of this.workers) if (!h.exited) live.push(i);
    return [0, ...live.sort((a, b) => a - b)];
  }

  private executorExists(e: number): boolean {
    return e === 0 || this.workers.has(e);
  }

  private call(e: number, req: CtlRequest, transfer?: TransferListItem[]): Promise<unknown> {
    if (e === 0) return this.main.handle(req);
    const w = this.workers.get(e);
    if (!w || w.exited) return Promise.reject(new Error(`executor ${e} is not running`));
    const rid = this.nextRid++;
    return new Promise((resolve, reject) => {
      w.pending.set(rid, { resolve, reject });
      w.worker.postMessage({ rid, req } satisfies WorkerInbound, transfer);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private checkRunning(): void {
    if (this.stopped) throw new Error('the actor runtime is stopped');
  }
}

export { PlanError };
