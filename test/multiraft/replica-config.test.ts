// The replica config's multi-Raft part: when multi-Raft is on, its defaults, the options handed to
// the sequencer's coordinator (which validates them again), and errors that name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../runtime/common/config-error.js';
import { multiraftConfig, multiraftCoreOptions, parseReplicaConfig } from '../../runtime/replica/config.js';
import { resolveMultiRaftOptions } from '../../runtime/protocols/multiraft/options.js';

const base = {
  id: 1,
  clusterId: 'c',
  dataDir: 'data',
  secretFile: 'secret',
  clientTokenFile: 'token',
  members: [
    { id: 1, peer: '127.0.0.1:7001', client: '127.0.0.1:7101' },
    { id: 2, peer: '127.0.0.1:7002', client: '127.0.0.1:7102' },
    { id: 3, peer: '127.0.0.1:7003', client: '127.0.0.1:7103' },
  ],
  control: { tokenFile: 'control' },
};

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.fieldPath;
  }
  assert.fail('expected a ConfigError');
}

test('single Raft unless groups > 1 or a multiraft section is given', () => {
  assert.equal(multiraftConfig(parseReplicaConfig(base)), null);
  const two = multiraftConfig(parseReplicaConfig({ ...base, groups: 2 }));
  assert.ok(two);
  assert.equal(two.progress, 'noop');
  const one = multiraftConfig(parseReplicaConfig({ ...base, multiraft: { progress: 'skip' } }));
  assert.ok(one, 'R = 1 with a multiraft section is multi-Raft (R can grow later)');
  assert.equal(one.progress, 'skip');
});

test('the coordinator accepts the options the config produces', () => {
  const cfg = parseReplicaConfig({ ...base, groups: 4, multiraft: { progress: 'skip', skipIntervalTicks: 3, skipIntervalMinTicks: 2, stallNoopMs: 5, bugs: ['read-before-pglobal'] } });
  const o = multiraftCoreOptions(cfg, multiraftConfig(cfg)!);
  assert.equal(o.instances, 4);
  assert.equal('stallNoopMs' in o, false, 'a host setting, not a core option');
  const r = resolveMultiRaftOptions(o);
  assert.equal(r.mr.skipIntervalTicks, 3);
  assert.equal(r.mr.maxInstances, 16);
  assert.ok(r.mrBugs.has('read-before-pglobal'));
});

test('bad multi-Raft settings name their field', () => {
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, multiraft: { progres: 'noop' } })), 'multiraft.progres');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, multiraft: { progress: 'fast' } })), 'multiraft.progress');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, groups: 20 })), 'groups');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, groups: 65, multiraft: { maxInstances: 64 } })), 'groups');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, multiraft: { skipIntervalMinTicks: 4, skipIntervalMaxTicks: 2 } })), 'multiraft.skipIntervalMaxTicks');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, multiraft: { bugs: ['nope'] } })), 'multiraft.bugs[0]');
});

test('instances that a change of R may create later can be placed in advance', () => {
  const cfg = parseReplicaConfig({ ...base, groups: 2, multiraft: { maxInstances: 8 }, runtime: { workers: 2, placement: { 'raft/7': 2 } } });
  assert.equal(cfg.runtime.placement['raft/7'], 2);
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, groups: 2, multiraft: { maxInstances: 8 }, runtime: { workers: 2, placement: { 'raft/8': 1 } } })), 'runtime.placement.raft/8');
  assert.equal(fieldOf(() => parseReplicaConfig({ ...base, runtime: { workers: 1, placement: { 'raft/1': 1 } } })), 'runtime.placement.raft/1', 'single Raft has raft/0 only');
});
