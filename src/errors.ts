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

/**
 * A catalogue query stopped by its time limit (statement_timeout), e.g. a recordings search over a
 * large catalogue: the request asked for too much, the database is fine. The API answers 503.
 */
export class QueryTimeoutError extends SrsError {
  constructor(message: string) {
    super('ERR_QUERY_TIMEOUT', message);
  }
}

/**
 * A database that cannot be reached or is not answering, rather than a fault of the request: a
 * refused or lost connection, SQLSTATE class 08 (connection exception), 53 (insufficient
 * resources) or 57 (operator intervention: shutting down, starting up, statement timeout). Callers
 * answer 503 for these, not 500.
 */
export function databaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(code))
      return true;
    if (/^(08|53|57)[0-9A-Z]{3}$/.test(code)) return true;
  }
  return (
    typeof message === 'string' &&
    /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
      message,
    )
  );
}

/**
 * A JSON syntax error's message without the excerpt V8 puts in it (`Unexpected token 'h',
 * ..."password":hunter2"... is not valid JSON`): the file may be a config file or a credentials
 * file, and the excerpt around the error a password. Says near which line of `text` it was instead.
 */
export function jsonSyntaxMessage(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^(.*?), (?:\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(message);
  if (!m) return message; // "... in JSON at position N": no text of the file
  const at = text.indexOf(m[2] as string);
  const line = at < 0 ? '' : ` near line ${text.slice(0, at).split('\n').length}`;
  return `${m[1] as string}${line}: not valid JSON (the text is not shown: it may hold a secret)`;
}
