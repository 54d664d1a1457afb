// The SDK's errors are the wire's errors: one module, stable numeric codes shared by broker, wire and SDK.
// Callers match on `err.code` (ErrorCode.*), never on the message.
export {
  asTickbusError,
  codeName,
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
  type ErrorData,
  isRetryable,
  TickbusError,
} from '../schemas/errors.js';
