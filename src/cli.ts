import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { loadConfig, type Config, type ConfigFile } from './config.js';
import { createLogger } from './log.js';
import { SrsError } from './errors.js';
import { recordingsCommand } from './cli/recordings.js';
import { keysCommand } from './cli/keys.js';
import { startServer } from './app.js';

/** The `srs` command line: serve, recordings ... Errors print one line and set an exit code. */

let configPath: string | undefined;

function getConfig(): Config {
  const path = configPath ?? process.env.SRS_CONFIG;
  let file: ConfigFile = {};
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as ConfigFile;
    } catch (err) {
      throw new SrsError('ERR_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`);
    }
  }
  return loadConfig(process.env, file);
}

const program = new Command('srs')
  .description('SIPREC recording server')
  .option('-c, --config <file>', 'JSON configuration file (or SRS_CONFIG)')
  .hook('preAction', (cmd) => {
    configPath = cmd.opts<{ config?: string }>().config;
  })
  .exitOverride();

program
  .command('serve')
  .description('run the recording server')
  .action(async () => {
    const config = getConfig();
    const log = createLogger(config.logLevel);
    const server = await startServer(config, log).catch((err: unknown) => {
      // A failed start must not linger on a stray timer or socket: report and exit.
      process.stderr.write(`srs: ${(err as Error).message ?? String(err)}\n`);
      process.exit(err instanceof SrsError ? 2 : 1);
    });
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      server.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

program.addCommand(recordingsCommand(getConfig));
program.addCommand(keysCommand(getConfig));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode;
  } else if (err instanceof SrsError) {
    process.stderr.write(`srs: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`srs: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
