// Public surface of the actor runtime. See docs/actors.md.
export { ActorRuntime } from './runtime.js';
export type { ApplyResult, RuntimeOptions } from './runtime.js';
export type { BatchCodec } from './executor.js';
export { defineActor, actorKind, kindName } from './define.js';
export { PlanError, validatePlan, planSchema } from './plan.js';
export { mountControlApi, startControlApi, readTokenFile } from './control-api.js';
export type { ControlApiOptions, ControlApiServer, MountOptions } from './control-api.js';
export type * from './types.js';
