import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';

/** What a cached answer is keyed on beyond the request: data versions (views/ops/notifications.ts). */
export interface DataVersionSource {
  /** Null while the versions cannot be trusted (not listening): nothing is served or stored. */
  versionOf(names: Iterable<string>): string | null;
}

/** One stored answer: the bytes sent, and what a hit needs without running anything. */
export interface CacheEntry {
  /** The bytes as sent (UTF-8): a hit encodes nothing. */
  body: Buffer;
  contentType: string;
  /** The relations it read, and their version before it was computed (unchanged after). */
  reads: string[];
  version: string;
  /** What it cost when computed: a hit is charged the same (docs/cache.md). */
  cost: number;
}

/**
 * A request's way through a miss: the Apollo plugin (cache/plugin.ts) fills it in, and the
 * endpoint (http/graphql-endpoint.ts) stores the answer when it says so.
 */
export interface CacheTicket {
  key: string;
  reads?: string[];
  version?: string | null;
  cost?: number;
  storable: boolean;
}

export interface CacheCounters {
  hit(): void;
  miss(): void;
}

/**
 * Whole serialized answers, in memory, bounded in bytes (LRU). An entry is served only while
 * the version of what it read is the one it was stored under; otherwise it is dropped.
 */
export class ResponseCache {
  private readonly lru: LRUCache<string, CacheEntry>;

  constructor(
    maxBytes: number,
    readonly versions: DataVersionSource,
  ) {
    this.lru = new LRUCache<string, CacheEntry>({
      maxSize: maxBytes,
      // The body's bytes, the strings (UTF-16: two bytes per character) and a little bookkeeping.
      sizeCalculation: (e, key) => e.body.length + 2 * (key.length + e.contentType.length + e.version.length) + 200,
    });
  }

  /** The entry for `key` if what it read is unchanged since it was stored. */
  get(key: string): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (!entry) return undefined;
    const now = this.versions.versionOf(entry.reads);
    if (now === entry.version) return entry;
    // Changed, or not listening: a changed version never comes back, so drop it now.
    if (now !== null) this.lru.delete(key);
    return undefined;
  }

  set(key: string, entry: CacheEntry): void {
    this.lru.set(key, entry);
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}

/** JSON with object keys sorted: equal variables give equal text whatever their order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

interface GraphqlBody {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
  extensions?: unknown;
}

/**
 * The cache key of a request, or null when it is not one the cache answers: only POSTed JSON
 * with a query string, no extensions (persisted queries), and no Authorization header (an
 * answer for a token holder may differ: the token lifts the execution budget).
 */
export function cacheKeyOf(req: IncomingMessage, body: unknown): string | null {
  if (req.method !== 'POST' || req.headers.authorization !== undefined) return null;
  const b = body as GraphqlBody | undefined;
  if (!b || typeof b !== 'object' || Array.isArray(b) || typeof b.query !== 'string' || b.extensions !== undefined) return null;
  const operationName = b.operationName;
  if (operationName != null && typeof operationName !== 'string') return null;
  const variables = b.variables;
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return null;
  // The answer's content type follows Accept.
  const accept = req.headers.accept ?? '';
  return createHash('sha256')
    .update(accept)
    .update('\0')
    .update(b.query)
    .update('\0')
    .update(operationName ?? '')
    .update('\0')
    .update(variables == null ? '{}' : canonicalJson(variables))
    .digest('base64');
}

/** A stored answer, with the headers the uncached answer gets (a POST is never answered 304). */
export function sendStored(res: ServerResponse, entry: CacheEntry): void {
  res.statusCode = 200;
  res.setHeader('content-type', entry.contentType);
  res.setHeader('content-length', entry.body.length);
  res.end(entry.body);
}
