/**
 * Prometheus metrics on `--metrics HOST:PORT` (off by default): GET /metrics returns the text
 * exposition format (prom-client) with the default process metrics (CPU, memory, event loop
 * lag, GC) prefixed `dw_`, and pool gauges read from BlockStore.stats() at scrape time:
 *   dw_pool_capacity_bytes, dw_pool_free_bytes, dw_pool_logical_used_bytes,
 *   dw_pool_physical_used_bytes, dw_pool_dead_bytes, dw_pool_blocks,
 *   dw_device_used_bytes{device}, dw_device_online{device} (1 online, 0 otherwise),
 *   dw_device_errors_total{device,kind} (read|checksum),
 *   dw_pool_task_progress_ratio{kind} (0-1 while a scrub/rebuild/reclaim runs).
 * With NFS on (nfsCallMetrics): dw_nfs_requests_total{program,version,procedure,outcome} and
 * dw_nfs_request_duration_seconds{program,procedure} (a histogram), and
 * dw_nfs4_operations_total{minor,operation,status} (nfs4OpMetrics).
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallRecord, OpRecord } from '../protocols/nfs/index.js';
import type { PoolStats } from '../raid/types.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** A registry with process metrics and pool gauges filled from `stats()` on each scrape. */
export function createRegistry(stats: () => Promise<PoolStats>, retentionRefusals: () => number = () => 0): Registry {
  const reg = new Registry();
  new Gauge({
    name: 'dw_retention_refusals_total', help: 'Changes refused by retention or a legal hold (EPERM) since the server started',
    registers: [reg], collect() { this.set(retentionRefusals()); },
  });
  collectDefaultMetrics({ register: reg, prefix: 'dw_' });
  let cached: Promise<PoolStats | null> | null = null;
  // One stats() call per scrape, shared by all gauges.
  const current = () => {
    cached ??= stats().catch(() => null).finally(() => setImmediate(() => { cached = null; }));
    return cached;
  };
  const simple: [string, string, (s: PoolStats) => number][] = [
    ['dw_pool_capacity_bytes', 'Usable capacity for file data after parity, bytes', (s) => s.capacity],
    ['dw_pool_free_bytes', 'Usable bytes still free for file data, after parity', (s) => s.free],
    ['dw_pool_logical_used_bytes', 'Logical bytes in live blocks', (s) => s.logicalUsed],
    ['dw_pool_stored_used_bytes', 'Bytes of live blocks as stored before parity (compressed where it helped)', (s) => s.storedUsed],
    ['dw_pool_physical_used_bytes', 'Bytes in segment files on all devices', (s) => s.physicalUsed],
    ['dw_pool_dead_bytes', 'Bytes of shards no block refers to (reclaimable)', (s) => s.dead],
    ['dw_pool_blocks', 'Live blocks', (s) => s.blocks],
  ];
  for (const [name, help, get] of simple) {
    new Gauge({ name, help, registers: [reg], async collect() { const s = await current(); if (s) this.set(get(s)); } });
  }
  new Gauge({
    name: 'dw_device_used_bytes', help: 'Bytes in the device segment files', labelNames: ['device'], registers: [reg],
    async collect() { const s = await current(); this.reset(); for (const d of s?.devices ?? []) this.set({ device: String(d.index) }, d.used); },
  });
  new Gauge({
    name: 'dw_device_online', help: '1 when the device is online, 0 when missing, faulted or rebuilding', labelNames: ['device'], registers: [reg],
    async collect() { const s = await current(); this.reset(); for (const d of s?.devices ?? []) this.set({ device: String(d.index) }, d.state === 'online' ? 1 : 0); },
  });
  new Gauge({
    name: 'dw_device_errors_total', help: 'Read and checksum errors seen on the device since start', labelNames: ['device', 'kind'], registers: [reg],
    async collect() {
      const s = await current();
      this.reset();
      for (const d of s?.devices ?? []) {
        this.set({ device: String(d.index), kind: 'read' }, d.readErrors);
        this.set({ device: String(d.index), kind: 'checksum' }, d.checksumErrors);
      }
    },
  });
  new Gauge({
    name: 'dw_device_flushes_behind_total', help: 'Background fdatasyncs started by write-behind on the device since start', labelNames: ['device'], registers: [reg],
    async collect() { const s = await current(); this.reset(); for (const d of s?.devices ?? []) this.set({ device: String(d.index) }, d.flushesBehind); },
  });
  new Gauge({
    name: 'dw_device_uncached_appends_total', help: 'Appends written uncached (RWF_DONTCACHE) on the device since start', labelNames: ['device'], registers: [reg],
    async collect() { const s = await current(); this.reset(); for (const d of s?.devices ?? []) this.set({ device: String(d.index) }, d.uncachedAppends); },
  });
  new Gauge({
    name: 'dw_pool_task_progress_ratio', help: 'Progress of a running scrub, rebuild or reclaim (0-1)', labelNames: ['kind'], registers: [reg],
    async collect() {
      const s = await current();
      this.reset();
      if (s?.task) this.set({ kind: s.task.kind }, s.task.total > 0 ? s.task.done / s.task.total : 0);
    },
  });
  return reg;
}

/**
 * NFS calls counted and timed on `reg`, as `startNfsServer({ onCall })` reports them: every RPC
 * program of the NFS port (nfs, mount, portmap, nlm, nsm), procedure names as the RFCs spell
 * them (NFSv4 counts COMPOUNDs), outcome `success` or the RPC error.
 */
export function nfsCallMetrics(reg: Registry): (c: CallRecord) => void {
  const calls = new Counter({
    name: 'dw_nfs_requests_total', help: 'RPC calls answered on the NFS port, by program, version, procedure and outcome',
    labelNames: ['program', 'version', 'procedure', 'outcome'], registers: [reg],
  });
  const time = new Histogram({
    name: 'dw_nfs_request_duration_seconds', help: 'Time from a decoded RPC call to its reply, seconds',
    labelNames: ['program', 'procedure'], buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [reg],
  });
  return (c) => {
    calls.inc({ program: c.program, version: String(c.version), procedure: c.procedure, outcome: c.outcome });
    time.observe({ program: c.program, procedure: c.procedure }, c.seconds);
  };
}

/**
 * NFSv4 operations counted on `reg`, as `startNfsServer({ onOp })` reports them:
 * dw_nfs4_operations_total{minor,operation,status}, names as RFC 8881 spells them (an operation
 * that failed is the COMPOUND's last one run).
 */
export function nfs4OpMetrics(reg: Registry): (o: OpRecord) => void {
  const ops = new Counter({
    name: 'dw_nfs4_operations_total', help: 'NFSv4 operations run inside COMPOUNDs, by minor version, operation and status',
    labelNames: ['minor', 'operation', 'status'], registers: [reg],
  });
  return (o) => ops.inc({ minor: String(o.minor), operation: o.op, status: o.status });
}

/** Serves GET /metrics from `reg` on host:port (port 0 = any free port; the bound one is returned). */
export async function startMetricsServer(reg: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { 'content-type': reg.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
