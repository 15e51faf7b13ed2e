import type pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config';
import { ReadRouter, parseLsn, type ReadTarget, type Replica } from '../../src/database/replicas';
import { mapDatabaseError, replicaReadFailure } from '../../src/errors';
import { createLogger } from '../../src/logger';

// The routing's pure parts with stand-in pools; test/replicas.test.ts runs it on a real standby.

/** A stand-in pool: `answer` decides each query's result (or throws). */
function fakePool(answer: (text: string) => Record<string, unknown>, busy = 0): pg.Pool {
  return {
    totalCount: busy,
    idleCount: 0,
    waitingCount: 0,
    query: vi.fn(async (cfg: string | { text: string }) => ({ rows: [answer(typeof cfg === 'string' ? cfg : cfg.text)] })),
  } as unknown as pg.Pool;
}

function replica(name: string, monitor: pg.Pool, pool = fakePool(() => ({ n: name }))): Replica {
  return {
    name,
    kind: 'replica',
    where: name,
    pool,
    monitor,
    statements: 0,
    state: 'unknown',
    lagSeconds: null,
    replayPaused: false,
    retried: { conflict: 0, busy: 0, unavailable: 0 },
  };
}

const standbyAt = (lsn: { v: string }, paused = false) => fakePool(() => ({ standby: true, replay: lsn.v, paused }));

describe('read routing', () => {
  const log = createLogger('silent');
  const primary: ReadTarget = { name: 'primary', kind: 'primary', pool: fakePool(() => ({ n: 'primary' })), statements: 0 };

  it('parses pg_lsn', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('0/10') > parseLsn('0/F')).toBe(true);
  });

  it('reads from the primary until a check has found a standby caught up, then from the standby', async () => {
    const at = { v: '0/100' };
    const r = replica('replica 1', standbyAt(at));
    const router = new ReadRouter(primary, [r], fakePool(() => ({ lsn: '0/100' })), { maxLagSeconds: 5, lagCheckMs: 1000, log });
    expect(router.pick()).toBe(primary);
    await router.checkNow();
    expect(r.state).toBe('in');
    expect(r.lagSeconds).toBe(0);
    expect(router.pick()).toBe(r);
  });

  it('counts a standby behind from the first primary position it has not replayed, and takes it out past the limit', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    try {
      const primaryAt = { v: '0/100' };
      const at = { v: '0/100' };
      const r = replica('replica 1', standbyAt(at, true));
      const router = new ReadRouter(primary, [r], fakePool(() => ({ lsn: primaryAt.v })), { maxLagSeconds: 2, lagCheckMs: 1000, log });
      await router.checkNow();
      expect(r.state).toBe('in');
      // An idle primary: nothing to be behind, however long.
      vi.setSystemTime(1_010_000);
      await router.checkNow();
      expect(r.lagSeconds).toBe(0);
      // The primary moves on, replay is paused.
      primaryAt.v = '0/200';
      await router.checkNow();
      expect(r.lagSeconds).toBe(0); // behind since just now
      vi.setSystemTime(1_011_500);
      primaryAt.v = '0/300';
      await router.checkNow();
      expect(r.lagSeconds).toBe(1.5);
      expect(r.state).toBe('in');
      vi.setSystemTime(1_012_500);
      await router.checkNow();
      expect(r.lagSeconds).toBe(2.5);
      expect(r.state).toBe('lagging');
      expect(router.pick()).toBe(primary);
      // Replay catches up with the newest position: back in.
      at.v = '0/300';
      await router.checkNow();
      expect(r.state).toBe('in');
    } finally {
      vi.useRealTimers();
    }
  });

  it('takes an unreachable or promoted standby out, and picks the least busy of the others', async () => {
    const lsn = { v: '0/1' };
    const down = replica('replica 1', fakePool(() => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }));
    const promoted = replica('replica 2', fakePool(() => ({ standby: false, replay: null, paused: false })));
    const busy = replica('replica 3', standbyAt(lsn), fakePool(() => ({}), 5));
    const idle = replica('replica 4', standbyAt(lsn), fakePool(() => ({}), 0));
    const router = new ReadRouter(primary, [down, promoted, busy, idle], fakePool(() => ({ lsn: '0/1' })), { maxLagSeconds: 5, lagCheckMs: 1000, log });
    await router.checkNow();
    expect([down.state, promoted.state, busy.state, idle.state]).toEqual(['down', 'down', 'in', 'in']);
    for (let i = 0; i < 4; i++) expect(router.pick()).toBe(idle);
  });

  it('retries a read a standby cancels or cannot serve once, on the primary, and stays there', async () => {
    const lsn = { v: '0/1' };
    let fail: Error | null = Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001' });
    const standbyPool = {
      totalCount: 0,
      idleCount: 0,
      waitingCount: 0,
      query: vi.fn(async () => {
        if (fail) throw fail;
        return { rows: [{ n: 'standby' }] };
      }),
    } as unknown as pg.Pool;
    const r = replica('replica 1', standbyAt(lsn), standbyPool);
    const router = new ReadRouter(primary, [r], fakePool(() => ({ lsn: '0/1' })), { maxLagSeconds: 5, lagCheckMs: 1000, log });
    await router.checkNow();
    const session = router.session();
    expect(session.target).toBe(r);
    expect((await session.query({ text: 'select 1' })).rows).toEqual([{ n: 'primary' }]);
    expect(session.target).toBe(primary);
    expect(r.retried).toEqual({ conflict: 1, busy: 0, unavailable: 0 });
    expect(r.state).toBe('in'); // one conflict says nothing about the standby

    fail = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const second = router.session();
    expect((await second.query({ text: 'select 1' })).rows).toEqual([{ n: 'primary' }]);
    expect(r.state).toBe('down');

    // Not a standby's doing (a bug, a timeout): not retried.
    await router.checkNow();
    fail = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const third = router.session();
    await expect(third.query({ text: 'select 1' })).rejects.toThrow(/statement timeout/);
  });

  it('classifies standby failures in errors.ts', () => {
    const e = (code: string, message = '') => Object.assign(new Error(message), { code });
    expect(replicaReadFailure(e('40001'))).toBe('conflict');
    expect(replicaReadFailure(e('40P01'))).toBe('conflict');
    expect(replicaReadFailure(e('57P04'))).toBe('conflict');
    expect(replicaReadFailure(e('57P01'))).toBe('unavailable');
    expect(replicaReadFailure(e('ECONNREFUSED'))).toBe('unavailable');
    expect(replicaReadFailure(new Error('Connection terminated unexpectedly'))).toBe('unavailable');
    expect(replicaReadFailure(new Error('timeout exceeded when trying to connect'))).toBe('busy');
    expect(replicaReadFailure(e('57014'))).toBeNull();
    expect(replicaReadFailure(e('42P01'))).toBeNull();
    // Should one reach a client after all (the primary failed too), it is a retryable condition.
    expect(mapDatabaseError(e('57P04'))?.extensions.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('reads the replica settings from the environment', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://p/t', DATABASE_REPLICA_URLS: ' postgres://a/t , postgresql://b:5433/t,', REPLICA_MAX_LAG_SECONDS: '0.5' });
    expect(config.replicas).toEqual({ urls: ['postgres://a/t', 'postgresql://b:5433/t'], poolMax: 10, maxLagSeconds: 0.5, lagCheckMs: 1000 });
    expect(loadConfig({}).replicas.urls).toEqual([]);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://p/t', DATABASE_REPLICA_URLS: 'mysql://x' })).toThrow(/DATABASE_REPLICA_URLS/);
    expect(() => loadConfig({ DATABASE_REPLICA_URLS: 'postgres://a/t' })).toThrow(/needs DATABASE_URL/);
  });
});
