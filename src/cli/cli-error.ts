import { SrsError } from '../errors.js';

/** A command's refusal: one line on stderr and this exit code (2 for bad input, as documented). */
export class CliError extends SrsError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('ERR_CLI', message);
  }
}
