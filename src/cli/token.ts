import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import type { Config } from '../config.js';
import { adminTokenFile } from '../app/admin-token.js';
import { writeSecretFile } from '../secrets.js';
import { cliAudit, CliError, guarded, withDatabase, type CliIo } from './common.js';

/**
 * `srs token rotate-admin`: a new server admin token in `<data>/admin-token` (mode 0600). A running
 * server reads the file again within seconds; the old token stops working then. The rotation is
 * audited. The token is printed only with --print (to stdout).
 */
export function tokenCommand(getConfig: () => Config, io: CliIo = process): Command {
  const cmd = new Command('token').description('the server admin token');
  cmd
    .command('rotate-admin')
    .description('replace the admin token (written to <data>/admin-token, mode 0600)')
    .option('--print', 'also print the new token on stdout')
    .action(
      guarded(io, async (opts: { print?: boolean }) => {
        const config = getConfig();
        if (config.adminToken)
          throw new CliError(
            'the admin token comes from SRS_ADMIN_TOKEN (or the config file): change it there and restart',
            2,
          );
        const file = adminTokenFile(config.dataDir);
        const token = randomBytes(24).toString('base64url');
        await writeSecretFile(file, token);
        await withDatabase(config, (db) =>
          cliAudit(db, {
            action: 'admin-token.rotate',
            resource: 'token',
            resourceId: 'admin-token',
            details: { file },
          }),
        );
        io.stdout.write(
          `new admin token written to ${file} (mode 0600); a running server takes it within 5 s\n`,
        );
        if (opts.print) io.stdout.write(`${token}\n`);
      }),
    );
  return cmd;
}
