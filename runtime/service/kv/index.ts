// The sample KV service as a ready StateMachine, plus the codecs clients need.
import { ServiceStateMachine, type ServiceStateMachineOptions } from '../service-state-machine.js';
import { KvService, type KvServiceOptions } from './service.js';

export interface KvStateMachineOptions extends ServiceStateMachineOptions, KvServiceOptions {}

/** A KV state machine for a replica or the simulator. */
export function createKvStateMachine(options: KvStateMachineOptions = {}): ServiceStateMachine & { readonly service: KvService } {
  return new ServiceStateMachine(new KvService(options), options) as ServiceStateMachine & { readonly service: KvService };
}

export { KvService, KV_SERVICE_NAME } from './service.js';
export type { KvServiceOptions } from './service.js';
export * from './codec.js';
