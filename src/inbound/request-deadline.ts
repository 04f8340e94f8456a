import type { IncomingHttpHeaders } from 'node:http';
import { DEADLINE_HEADER, MAX_DEADLINE_MS, deadlineFromHeader } from '../policy/deadline/index.js';

/** gRPC's deadline header: 1 to 8 digits and a unit (`H`, `M`, `S`, `m`, `u`, `n`). */
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout';

const GRPC_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * A `grpc-timeout` value in milliseconds, or undefined when it is not valid per the gRPC
 * over HTTP/2 spec (`1*8DIGIT unit`). Clamped to {@link MAX_DEADLINE_MS}.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.length < 2 || raw.length > 9) return undefined;
  const unit = GRPC_UNIT_MS[raw[raw.length - 1]!];
  const digits = raw.slice(0, -1);
  if (unit === undefined || !/^\d{1,8}$/.test(digits)) return undefined;
  return Math.min(Number(digits) * unit, MAX_DEADLINE_MS);
}

/**
 * The deadline (epoch ms) a request arrived with: from `x-envoy-expected-rq-timeout-ms`
 * and, when present, `grpc-timeout`; the earlier of the two when both are. A header that
 * is not a valid value (negative, `NaN`, text, too long) is ignored as if absent, as
 * Envoy ignores it; a value beyond {@link MAX_DEADLINE_MS} is clamped to it. `0` means
 * no time left.
 */
export function requestDeadline(headers: IncomingHttpHeaders, now: number): number | undefined {
  const envoy = headers[DEADLINE_HEADER];
  const grpc = headers[GRPC_TIMEOUT_HEADER];
  if (envoy === undefined && grpc === undefined) return undefined;
  const fromEnvoy = deadlineFromHeader(envoy, now);
  const grpcMs = parseGrpcTimeout(grpc);
  const fromGrpc = grpcMs === undefined ? undefined : now + grpcMs;
  if (fromEnvoy === undefined) return fromGrpc;
  if (fromGrpc === undefined) return fromEnvoy;
  return Math.min(fromEnvoy, fromGrpc);
}
