// Messages between the main thread and generator worker threads.
import type { WireBucket } from './interval.js';
import type { Profile } from './profile/profile.js';
import type { TargetOptions, TargetSpec } from './target.js';

export interface WorkerInit {
  profile: Profile;
  target: TargetSpec;
  targetOptions: TargetOptions;
  worker: number;
  workers: number;
}

export interface WireOpStats {
  count: number;
  errors: number;
  errorCodes: Record<string, number>;
  hist: string;
}

export interface WireFinal {
  byOp: Record<string, WireOpStats>;
  sendLag: string;
  offered: number;
  sent: number;
  completed: number;
  abandoned: number;
  maxInFlight: number;
  maxQueued: number;
}

export type WorkerToMain =
  | { type: 'ready' }
  | { type: 'interval'; bucket: WireBucket; inFlight: number }
  | { type: 'final'; final: WireFinal | null }
  | { type: 'error'; name: string; message: string };

export type MainToWorker = { type: 'start'; startEpochMs: number } | { type: 'stop'; drainMs: number };
