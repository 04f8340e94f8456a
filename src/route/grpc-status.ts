/**
 * gRPC status codes by the names Istio's API takes (`fault.abort.grpcStatus`): codes 0
 * to 16 in order (istio/istio pkg/util/grpc: SupportedGRPCStatus; the gRPC spec's
 * status codes).
 */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** A gRPC status name Istio accepts. */
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** The numeric code of a gRPC status name (`UNAVAILABLE` → 14). */
export function grpcStatusCode(name: GrpcStatusName): number {
  return GRPC_STATUS_NAMES.indexOf(name);
}
