import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isContinuumError } from '../errors.js';
import { DeploymentStore } from './store.js';
import type { RevisionSpec } from './store.js';

const spec: RevisionSpec = {
  model: 'iris',
  modelRef: '',
  version: '1',
  sha256: 'a'.repeat(64),
  policy: { policy: 'kpa', minReplicas: 0 },
  resources: { vcpu: 1, memoryGb: 0.5 },
  runtime: {},
};

describe('DeploymentStore', () => {
  let dir: string;
  let store: DeploymentStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'continuum-deploy-'));
    store = DeploymentStore.open(dir);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every change as a new immutable revision with an event, across reopen', () => {
    store.create('web', spec);
    store.update('web', (s) => ({ ...s, policy: { policy: 'hpa' } }), 'updated', 'policy hpa');
    store.update('web', (s) => ({ ...s, version: '2' }), 'updated', 'version 2');
    store.close();
    store = DeploymentStore.open(dir);
    const d = store.get('web');
    expect(d.revision.revision).toBe(3);
    expect(d.revision.spec).toMatchObject({ version: '2', policy: { policy: 'hpa' } });
    expect(store.revisions('web').map((r) => [r.revision, r.spec.version, r.spec.policy['policy']])).toEqual([
      [1, '1', 'kpa'],
      [2, '1', 'hpa'],
      [3, '2', 'hpa'],
    ]);
    expect(store.events('web').map((e) => e.type)).toEqual(['created', 'updated', 'updated']);
  });

  it('refuses a second deployment of the same name and unknown names', () => {
    store.create('web', spec);
    expect(() => store.create('web', spec)).toThrow(expect.objectContaining({ code: 'CONTINUUM_ERR_DEPLOYMENT_EXISTS' }));
    try {
      store.get('nope');
      expect.unreachable();
    } catch (err) {
      expect(isContinuumError(err, 'CONTINUUM_ERR_DEPLOYMENT_NOT_FOUND')).toBe(true);
    }
  });

  it('says which deployment uses a model version until it is deleted', () => {
    store.create('web', spec);
    expect(store.usesModelVersion('iris', '1')).toMatch(/deployment 'web' revision 1/);
    expect(store.usesModelVersion('iris', '2')).toBeUndefined();
    store.delete('web');
    expect(store.usesModelVersion('iris', '1')).toBeUndefined();
    expect(store.list()).toEqual([]);
    expect(store.events('web')).toEqual([]);
  });
});
