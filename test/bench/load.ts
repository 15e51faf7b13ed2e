import autocannon from 'autocannon';
import type pg from 'pg';
import { cpuDelta, cpuMs, machineCpuMs, rssMiB, sampleCpu } from './proc';
import { percentile } from './stats';

/** One timed run of one contender at one load. */
export interface RunFigures {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  /** Non-2xx answers, answers other than the verified one, connection errors and timeouts. */
  errors: number;
  /** CPU of the server process per request (ms), from /proc. */
  serverCpuMs: number;
  /** CPU of its PostgreSQL backends per request (ms); NaN when they cannot be read (remote server). */
  dbCpuMs: number;
  /** Resident memory of the server process at the end of the run (MiB). */
  rssMiB: number;
  /** Share of the machine's CPU that neither the server, its backends nor the load generator used. */
  othersCpuShare: number;
}

export interface Target {
  url: string;
  body: string;
  /** The verified answer: anything else counts as an error. */
  expectBody: string;
  /** When the requests differ (each must still get expectBody): the body of the next one. */
  nextBody?: () => string;
  pid: number;
  applicationName: string;
}

export interface LoadOptions {
  connections: number;
  durationS: number;
  timeoutS?: number;
}

/**
 * A closed loop of `connections` keep-alive connections, each sending the next request when
 * the last is answered (autocannon, in this process, on loopback). Latency is taken from
 * every answer (autocannon's own histogram keeps whole milliseconds only).
 */
export async function timedRun(target: Target, opts: LoadOptions, monitor: pg.Client, database: string): Promise<RunFigures> {
  const backends = async () => {
    const { rows } = await monitor.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and application_name = $2',
      [database, target.applicationName],
    );
    return rows.map((r) => r.pid);
  };
  const latencies: number[] = [];
  const dbBefore = sampleCpu(await backends());
  const serverBefore = cpuMs(target.pid) ?? NaN;
  const selfBefore = cpuMs(process.pid) ?? NaN;
  const machineBefore = machineCpuMs();
  const started = process.hrtime.bigint();

  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: target.body,
        // autocannon takes expectBody only for one fixed request; verifyBody with a request list.
        ...(target.nextBody
          ? { requests: [{ setupRequest: (r) => ({ ...r, body: target.nextBody!() }) }], verifyBody: (b) => b === target.expectBody }
          : { expectBody: target.expectBody }),
        connections: opts.connections,
        pipelining: 1,
        duration: opts.durationS,
        timeout: opts.timeoutS ?? 10,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime);
    });
  });

  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const machineAfter = machineCpuMs();
  const serverMs = (cpuMs(target.pid) ?? NaN) - serverBefore;
  const selfMs = (cpuMs(process.pid) ?? NaN) - selfBefore;
  const dbMs = cpuDelta(dbBefore, sampleCpu(await backends()));
  const dbReadable = dbBefore.size > 0 || dbMs > 0;
  const sorted = Float64Array.from(latencies).sort();
  const busy = machineAfter.busy - machineBefore.busy;
  const capacity = machineAfter.total - machineBefore.total;
  return {
    requests: latencies.length,
    rps: (latencies.length * 1000) / elapsedMs,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    // autocannon's errors include its timeouts.
    errors: result.non2xx + result.errors + result.mismatches,
    serverCpuMs: serverMs / latencies.length,
    dbCpuMs: dbReadable ? dbMs / latencies.length : NaN,
    rssMiB: rssMiB(target.pid) ?? NaN,
    othersCpuShare: capacity > 0 ? Math.max(0, busy - serverMs - selfMs - dbMs) / capacity : NaN,
  };
}
