// HTTP transport for registry calls: one keep-alive undici Agent, timeouts, retries with exponential backoff and
// full jitter on 5xx and dropped connections, 429/503 honouring Retry-After, and request metrics.
// The retry loop is ours rather than undici's RetryAgent because we need per-request metrics, the operation and
// reference in every error, and Retry-After honoured for 429 and 503 alike with a cap the caller chooses.
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher } from "undici";
import { RegistryConnectionError } from "./errors.js";
import { apiHost, isLoopbackRegistry } from "./reference.js";

export type RequestKind = "ping" | "token" | "manifest" | "blob" | "upload" | "tags" | "referrers";

export interface TransportOptions {
  /** Registries to speak plain HTTP to even though they are not on loopback. */
  insecureRegistries?: readonly string[];
  /** Loopback registries that serve TLS (the default for loopback is plain HTTP, as Docker does). */
  tlsRegistries?: readonly string[];
  /** Attempts after the first one, for retryable failures. */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is an error rather than a wait. */
  maxRetryAfterMs?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  connectionsPerOrigin?: number;
  userAgent?: string;
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  operation: string;
  registry: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface RequestSpec {
  registry: string;
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** Path under the registry root (e.g. /v2/library/redis/manifests/7) or an absolute URL (upload locations, realms). */
  url: string;
  headers?: Record<string, string>;
  /** Always a Buffer so a retry can send it again. */
  body?: Buffer;
  kind: RequestKind;
  operation: string;
  reference?: string | undefined;
  /** Retry on 5xx/429/dropped connections; PATCH of an upload chunk is not safe to resend blindly. */
  retry?: boolean;
}

export interface TransportMetrics {
  /** Requests sent, by "METHOD kind" (e.g. "GET blob"), retries included. */
  requests: Record<string, number>;
  retries: number;
  /** Body bytes received for blob GETs and sent in blob uploads. */
  blobBytesDownloaded: number;
  blobBytesUploaded: number;
}

const DEFAULTS = {
  maxRetries: 5,
  baseDelayMs: 200,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 120_000,
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 120_000,
  connectionsPerOrigin: 16,
};

const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

export function isRetryableNetworkError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && RETRYABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter (AWS architecture blog): uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  return Math.round(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

export function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export class Transport {
  readonly metrics: TransportMetrics = { requests: {}, retries: 0, blobBytesDownloaded: 0, blobBytesUploaded: 0 };
  private readonly agent: Agent;
  private readonly options: Required<
    Omit<TransportOptions, "onRetry" | "insecureRegistries" | "tlsRegistries" | "userAgent">
  >;
  private readonly insecure: Set<string>;
  private readonly tls: Set<string>;
  private readonly userAgent: string;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(options: TransportOptions = {}) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULTS, ...defined } as typeof this.options;
    this.insecure = new Set(options.insecureRegistries ?? []);
    this.tls = new Set(options.tlsRegistries ?? []);
    this.userAgent = options.userAgent ?? "e2e3d-oci/0.1";
    this.onRetry = options.onRetry;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: this.options.connectionsPerOrigin,
      connect: { timeout: this.options.connectTimeoutMs },
      headersTimeout: this.options.headersTimeoutMs,
      bodyTimeout: this.options.bodyTimeoutMs,
    });
  }

  /** https unless the registry is loopback (or listed as insecure) and not listed as TLS. */
  baseUrl(registry: string): string {
    const plain = this.insecure.has(registry) || (isLoopbackRegistry(registry) && !this.tls.has(registry));
    return `${plain ? "http" : "https"}://${apiHost(registry)}`;
  }

  resolveUrl(registry: string, url: string): URL {
    return new URL(url, this.baseUrl(registry));
  }

  count(spec: Pick<RequestSpec, "method" | "kind">): void {
    const key = `${spec.method} ${spec.kind}`;
    this.metrics.requests[key] = (this.metrics.requests[key] ?? 0) + 1;
  }

  /** Sends a request, retrying what is safe to retry; returns the final response (any status) for the caller to judge. */
  async request(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    const url = this.resolveUrl(spec.registry, spec.url);
    const retry = spec.retry ?? true;
    const headers: Record<string, string> = { "user-agent": this.userAgent, ...spec.headers };
    if (spec.body !== undefined) headers["content-length"] = String(spec.body.length);
    for (let attempt = 0; ; attempt++) {
      this.count(spec);
      let response: Dispatcher.ResponseData;
      try {
        response = await this.agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: spec.method,
          headers,
          body: spec.body,
        });
      } catch (cause) {
        if (retry && attempt < this.options.maxRetries && isRetryableNetworkError(cause)) {
          await this.wait(spec, attempt, undefined, `connection failed: ${(cause as Error).message}`);
          continue;
        }
        throw new RegistryConnectionError(`${spec.operation} failed: ${(cause as Error).message}`, {
          operation: spec.operation,
          reference: spec.reference,
          registry: spec.registry,
          cause,
          hint: "check that the registry is reachable (host, port, TLS vs plain HTTP) and retry",
        });
      }
      const status = response.statusCode;
      const retryable = status === 429 || (status >= 500 && status !== 501 && status !== 505);
      if (retry && retryable && attempt < this.options.maxRetries) {
        const retryAfter = parseRetryAfter(response.headers["retry-after"]);
        await response.body.dump();
        if (retryAfter !== undefined && retryAfter > this.options.maxRetryAfterMs)
          return this.refetchForError(spec, url, headers);
        await this.wait(spec, attempt, retryAfter, `HTTP ${status}`);
        continue;
      }
      return response;
    }
  }

  /** Retry-After beyond our patience: make one more request so the caller sees the real status in its error. */
  private async refetchForError(spec: RequestSpec, url: URL, headers: Record<string, string>) {
    this.count(spec);
    return this.agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: spec.method,
      headers,
      body: spec.body,
    });
  }

  private async wait(
    spec: RequestSpec,
    attempt: number,
    retryAfterMs: number | undefined,
    reason: string,
  ): Promise<void> {
    const delayMs = retryAfterMs ?? backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs);
    this.metrics.retries++;
    this.onRetry?.({ operation: spec.operation, registry: spec.registry, attempt: attempt + 1, delayMs, reason });
    await sleep(delayMs);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
