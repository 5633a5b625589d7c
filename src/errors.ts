/** Small named errors that callers can match on (instanceof or `code`). */
export class SrsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Configuration is invalid: the message names the setting and what is wrong. */
export class ConfigError extends SrsError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

/** An operation was attempted in a state that does not allow it (closed engine, finished session...). */
export class InvalidStateError extends SrsError {
  constructor(message: string) {
    super('ERR_INVALID_STATE', message);
  }
}

/** A request cannot be honoured because what it asks for is not supported (codec, transport...). */
export class UnsupportedError extends SrsError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED', message);
  }
}

/** Something asked for does not exist (recording id, key fingerprint...). */
export class NotFoundError extends SrsError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', message);
  }
}

/** Input could not be parsed; `detail` says where and why. */
export class ParseError extends SrsError {
  constructor(message: string) {
    super('ERR_PARSE', message);
  }
}

/** No free resource (ports, capacity). */
export class CapacityError extends SrsError {
  /** When a refusal knows how long it lasts (a backlog draining): the Retry-After to send. */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, retryAfterSeconds?: number) {
    super('ERR_CAPACITY', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
