// `defineActor` turns a factory into something a worker can load by module path + export name.
import { ACTOR_DEFINITION } from './types.js';
import type { Actor, ActorContext, ActorDefinition, ActorKind, ActorOptions } from './types.js';

export function defineActor<A = unknown, M = unknown, S = unknown>(
  create: (ctx: ActorContext<M>, args: A) => Actor<M, S>,
  options: ActorOptions = {},
): ActorDefinition<A, M, S> {
  return Object.freeze({ [ACTOR_DEFINITION]: true as const, create, options: Object.freeze({ ...options }) });
}

export function isActorDefinition(v: unknown): v is ActorDefinition {
  return typeof v === 'object' && v !== null && (v as Record<PropertyKey, unknown>)[ACTOR_DEFINITION] === true;
}

/** Builds an ActorKind for an export of the module at `moduleUrl` (usually `import.meta.url`). */
export function actorKind(moduleUrl: string | URL, exportName: string): ActorKind {
  return { module: moduleUrl instanceof URL ? moduleUrl.href : moduleUrl, export: exportName };
}

export function kindName(kind: ActorKind): string {
  return `${kind.module}#${kind.export}`;
}

const cache = new Map<string, Promise<ActorDefinition>>();

/** Loads (once per thread) the definition an ActorKind names; throws a clear error otherwise. */
export function loadDefinition(kind: ActorKind): Promise<ActorDefinition> {
  const key = kindName(kind);
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const spec = kind.module.startsWith('file:') ? kind.module : toFileUrl(kind.module);
      let mod: Record<string, unknown>;
      try {
        mod = (await import(spec)) as Record<string, unknown>;
      } catch (err) {
        throw new Error(`actor kind ${key}: cannot import module: ${err instanceof Error ? err.message : String(err)}`);
      }
      const def = mod[kind.export];
      if (!isActorDefinition(def)) throw new Error(`actor kind ${key}: export '${kind.export}' is not made with defineActor()`);
      return def;
    })();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}

function toFileUrl(path: string): string {
  if (!path.startsWith('/')) throw new Error(`actor module must be an absolute path or file: URL, got '${path}'`);
  return 'file://' + path.split('/').map(encodeURIComponent).join('/');
}
