import { Command, CommanderError } from 'commander';
import { loadConfig, type Config, type ConfigFile } from './config.js';
import { createLogger } from './log.js';
import { jsonSyntaxMessage, SrsError } from './errors.js';
import { dataDirSource, requireServerData } from './cli/data-dir.js';
import { VERSION } from './app/version.js';
import { readSettingFileSync } from './config/setting-file.js';
import { keepRunningOnRejections } from './process-faults.js';

/** The `srs` command line: serve, recordings ... Errors print one line and set an exit code. */

let configPath: string | undefined;
let dataDirFlag: string | undefined;

function readConfig(): { config: Config; source: string } {
  const path = configPath ?? process.env.SRS_CONFIG;
  let file: ConfigFile = {};
  if (path) {
    let text = '';
    try {
      text = readSettingFileSync(path).toString('utf8');
      file = JSON.parse(text) as ConfigFile;
    } catch (err) {
      throw new SrsError('ERR_CONFIG', `cannot read config file ${path}: ${jsonSyntaxMessage(err, text)}`);
    }
  }
  const env = dataDirFlag ? { ...process.env, SRS_DATA_DIR: dataDirFlag } : process.env;
  return {
    config: loadConfig(env, file),
    source: dataDirSource(dataDirFlag, process.env, file.dataDir, path),
  };
}

/** The server's configuration: `serve` creates its data directory on first start. */
function getConfig(): Config {
  return readConfig().config;
}

/** The other commands work on a server's data and never create any (see src/cli/data-dir.ts). */
function getExistingConfig(): Config {
  const { config, source } = readConfig();
  requireServerData(config, source);
  return config;
}

const program = new Command('srs')
  .description('SIPREC recording server')
  .version(VERSION, '-V, --version', 'print the version of this installation')
  .option('-c, --config <file>', 'JSON configuration file (or SRS_CONFIG)')
  .option(
    '-d, --data-dir <dir>',
    'the server data directory (or SRS_DATA_DIR, or dataDir in the config file)',
  )
  .hook('preAction', (cmd) => {
    const opts = cmd.opts<{ config?: string; dataDir?: string }>();
    configPath = opts.config;
    dataDirFlag = opts.dataDir;
  })
  .exitOverride();

program
  .command('serve')
  .description('run the recording server')
  .action(async () => {
    const config = getConfig();
    const log = createLogger(config.logLevel);
    keepRunningOnRejections(log);
    // SIGHUP reloads the TLS certificates (a renewed one needs no restart). Unhandled, it ended the
    // process at once, no orderly shutdown, its embedded Postgres left running.
    const hup: { reload?: () => Promise<boolean> } = {};
    process.on('SIGHUP', () => {
      if (!hup.reload) return log.warn('SIGHUP while starting: nothing reloaded');
      log.info({ signal: 'SIGHUP' }, 'reloading the TLS certificates');
      void hup.reload();
    });
    // Loaded here: the other commands need none of the server's modules (about 1 CPU-s to load).
    const { startServer } = await import('./app.js');
    const server = await startServer(config, log).catch((err: unknown) => {
      // A failed start must not linger on a stray timer or socket: report and exit.
      process.stderr.write(`srs: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(err instanceof SrsError ? 2 : 1);
    });
    hup.reload = () => server.reloadTls();
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        // A second signal: the operator will not wait. Nothing received is lost (the spools are on
        // disk); the next start recovers what the shutdown did not finish.
        if (signal !== 'drain') {
          log.warn({ signal }, 'second signal: exiting now, before the shutdown finished');
          process.exit(1);
        }
        return;
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      // A shutdown that waits on something that never answers (a stalled database) ends anyway.
      const seconds = config.limits.shutdownTimeoutSeconds;
      setTimeout(() => {
        log.error({ seconds }, `the shutdown did not finish in ${seconds} s: exiting`);
        process.exit(1);
      }, seconds * 1000).unref();
      server.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    // `srs node drain`: the node exits once its live calls ended and its recordings are stored.
    void server.cluster.drained.then(() => stop('drain'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

/**
 * The commands other than serve, each loaded only when it runs: every module pulls in its own part
 * of the code (the catalogue, the object store's SDK, OpenPGP), and loading them all cost each
 * `srs` process about 0.4 CPU-s more (`srs serve` included). Help, a typo or no command loads all.
 */
const commands: Record<string, () => Promise<Command>> = {
  recordings: async () => (await import('./cli/recordings.js')).recordingsCommand(getExistingConfig),
  keys: async () => (await import('./cli/keys.js')).keysCommand(getExistingConfig),
  token: async () => (await import('./cli/token.js')).tokenCommand(getExistingConfig),
  users: async () => (await import('./cli/users.js')).usersCommand(getExistingConfig),
  node: async () => (await import('./cli/node.js')).nodeCommand(getExistingConfig),
  storage: async () => (await import('./cli/storage.js')).storageCommand(getExistingConfig),
};

/** The command named on the command line: its first word that is neither an option nor an option's value. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') return argv[i + 1];
    if (['-c', '--config', '-d', '--data-dir'].includes(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

const named = commandName(process.argv.slice(2));
if (named === 'serve') {
  // the server needs none of them
} else if (named !== undefined && Object.hasOwn(commands, named)) {
  program.addCommand(await (commands[named] as () => Promise<Command>)());
} else {
  for (const load of Object.values(commands)) program.addCommand(await load());
}

/** Every command throws its usage errors (unknown command or option, missing argument) to the handler below. */
const throwUsageErrors = (c: Command): void => {
  c.exitOverride();
  c.commands.forEach(throwUsageErrors);
};
throwUsageErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help exits 0; every usage error 2, as documented (commander's own code is 1).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof SrsError) {
    process.stderr.write(`srs: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`srs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
