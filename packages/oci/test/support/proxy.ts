// A loopback HTTP proxy in front of a real registry that counts requests and injects faults: a status answer
// (429 with Retry-After, 503), a flipped byte in a response body, or a connection dropped half-way through a body.
// It is a test double for the network only; the registry behind it is real.
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string> }
  | { kind: "flip-byte" }
  | { kind: "drop-after"; bytes: number }
  /** Never answer (until the proxy stops): freezes a copy at a known point. */
  | { kind: "stall" };

/** Decides per request; return undefined to pass it through untouched. */
export type FaultRule = (req: IncomingMessage) => Fault | undefined;

export interface FaultProxy {
  host: string;
  /** "METHOD path" of every request seen, in order. */
  log: string[];
  setRule(rule: FaultRule | undefined): void;
  stop(): Promise<void>;
}

/** Rule helper: the first `times` requests matching `match` get `fault`. */
export function firstN(times: number, match: (req: IncomingMessage) => boolean, fault: Fault): FaultRule {
  let left = times;
  return (req) => {
    if (left > 0 && match(req)) {
      left--;
      return fault;
    }
    return undefined;
  };
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(":");
  let rule: FaultRule | undefined;
  const log: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    log.push(`${req.method} ${req.url}`);
    const fault = rule?.(req);
    if (fault?.kind === "stall") {
      req.resume();
      return;
    }
    if (fault?.kind === "status") {
      req.resume();
      res.writeHead(fault.status, { "content-type": "application/json", ...fault.headers });
      res.end(JSON.stringify({ errors: [{ code: "INJECTED", message: `fault proxy answered ${fault.status}` }] }));
      return;
    }
    const upstream = request(
      { host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        let seen = 0;
        let flipped = false;
        answer.on("data", (chunk: Buffer) => {
          if (fault?.kind === "flip-byte" && !flipped && chunk.length > 0) {
            const copy = Buffer.from(chunk);
            copy[Math.floor(copy.length / 2)]! ^= 0xff;
            flipped = true;
            res.write(copy);
          } else if (fault?.kind === "drop-after" && seen + chunk.length >= fault.bytes) {
            res.write(chunk.subarray(0, Math.max(0, fault.bytes - seen)));
            answer.destroy();
            res.socket?.destroy();
            return;
          } else {
            res.write(chunk);
          }
          seen += chunk.length;
        });
        answer.on("end", () => res.end());
        answer.on("error", () => res.socket?.destroy());
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    log,
    setRule(next) {
      rule = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
