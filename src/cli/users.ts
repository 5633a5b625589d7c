import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { HttpError } from '../api/http.js';
import { usersCsv } from '../api/resources/users-csv.js';
import { runDirectorySync } from '../api/resources/users-directory.js';
import { runImport, userBody, USERS_CSV_MAX, type ImportResult } from '../api/resources/users-import.js';
import { readSettingFileText } from '../config/setting-file.js';
import { DirectoryError, ldapDirectory } from '../directory/ldap.js';
import type { Config } from '../config.js';
import type { Database } from '../store/db.js';
import { ConflictError } from '../store/users.js';
import { cliAudit, CliError, guarded, tlsPolicy, withDatabase, type CliIo } from './common.js';

/**
 * `srs users`: the console's users from the shell, on the server's data (the server may be running):
 * list them, download and import them as CSV (the same columns, checks and transaction as the
 * console's *Users as CSV*), and set a user's password (the way back in when the admin password
 * is lost). Every change is audited as `cli:<unix user>`, as the API audits a console user.
 */

/** An audit entry on a user, by the CLI. */
const auditAs =
  (db: Database) =>
  (action: string, resourceId: string, details: Record<string, unknown>): Promise<void> =>
    cliAudit(db, { action, resource: 'user', resourceId, details });

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** An import's or a sync's changes, a line each. */
function printChanges(io: CliIo, r: ImportResult, missing: string): void {
  for (const c of r.created) io.stdout.write(`line ${c.line}: create ${c.username} (${c.role})\n`);
  for (const u of r.updated)
    io.stdout.write(`line ${u.line}: change ${u.username}: ${u.fields.join(', ')}\n`);
  for (const u of r.disabled) io.stdout.write(`disable ${u.username} (${missing})\n`);
}

function countsOf(r: ImportResult): string {
  const off = r.disabled.length > 0 ? `, ${r.disabled.length} disabled` : '';
  const skipped =
    'skipped' in r && Array.isArray(r.skipped) && r.skipped.length > 0 ? `, ${r.skipped.length} skipped` : '';
  return `${r.created.length} created, ${r.updated.length} changed, ${r.unchanged.length} unchanged${off}${skipped}`;
}

export function usersCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('users').description(
    'the console users: list, CSV export and import, directory sync, password',
  );

  cmd
    .command('list')
    .description('list the users')
    .option('--json', 'JSON instead of a table')
    .action(
      guarded(io, async (opts: { json?: boolean }) => {
        const users = await withDatabase(getConfig(), (db) => db.users.list());
        if (opts.json) {
          const rows = users.map(({ id, username, displayName, role, group, disabled }) => ({
            id,
            username,
            displayName,
            role,
            group,
            disabled,
          }));
          io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        for (const u of users)
          io.stdout.write(
            `${u.username.padEnd(24)} ${u.role.padEnd(12)} ${(u.group ?? '-').padEnd(16)} ${u.disabled ? 'disabled' : 'active'}\n`,
          );
      }),
    );

  cmd
    .command('export')
    .description('write the users as CSV (the columns `srs users import` reads; no passwords)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(
      guarded(io, async (opts: { out?: string }) => {
        const text = await withDatabase(getConfig(), async (db) => {
          const users = await db.users.list();
          const csv = usersCsv(users, await db.offload.allSubscriptions());
          await auditAs(db)('users.export', '', { users: users.length, ...(opts.out && { file: opts.out }) });
          return csv;
        });
        if (opts.out) await writeFile(opts.out, text, { mode: 0o600 });
        else io.stdout.write(text);
      }),
    );

  cmd
    .command('import')
    .description('create and change users from a CSV file (docs/api.md#users-as-csv); all or nothing')
    .argument('<file>', 'the CSV file ("-" for standard input)')
    .option('--dry-run', 'check the file and say what it would do; change nothing')
    .option('--disable-missing', 'disable every user not in the file (never deleted)')
    .action(
      guarded(io, async (file: string, opts: { dryRun?: boolean; disableMissing?: boolean }) => {
        const csv =
          file === '-'
            ? await readAll(io.stdin)
            : // A regular file of at most what POST /users/import takes (a device or a FIFO: refused).
              await readSettingFileText(file, USERS_CSV_MAX).catch((err: NodeJS.ErrnoException) => {
                throw new CliError(`cannot read ${file}: ${err.code ?? err.message}`, 2);
              });
        const r = await withDatabase(getConfig(), (db) =>
          runImport(
            csv,
            { dryRun: Boolean(opts.dryRun), disableMissing: Boolean(opts.disableMissing) },
            { db, audit: auditAs(db) },
          ),
        ).catch((err: unknown) => {
          if (err instanceof HttpError) {
            const rows = (err.extra.rows ?? []) as { line: number; message: string }[];
            for (const x of rows) io.stderr.write(`${x.line > 0 ? `line ${x.line}: ` : ''}${x.message}\n`);
            throw new CliError(err.message, 1);
          }
          if (err instanceof ConflictError) throw new CliError(`${err.message}; nothing was imported`, 1);
          throw err;
        });
        printChanges(io, r, 'not in the file');
        const counts = countsOf(r);
        io.stdout.write(
          r.dryRun ? `dry run: would be ${counts}; nothing written\n` : `imported: ${counts}\n`,
        );
      }),
    );

  cmd
    .command('sync')
    .description('synchronize the users with the LDAP directory (docs/access-security.md#ldap-directory)')
    .option('--dry-run', 'say what the sync would do; change nothing')
    .action(
      guarded(io, async (opts: { dryRun?: boolean }) => {
        const config = getConfig();
        if (!config.directory.url)
          throw new CliError('no directory is configured (directory.url in the config file)', 2);
        const directory = ldapDirectory(config.directory, tlsPolicy(config));
        const r = await withDatabase(config, (db) =>
          runDirectorySync(
            directory,
            { dryRun: Boolean(opts.dryRun), disableMissing: config.directory.disableMissing },
            { db, audit: auditAs(db) },
          ),
        ).catch((err: unknown) => {
          if (err instanceof DirectoryError) throw new CliError(err.message, 3);
          if (err instanceof HttpError)
            throw new CliError(`${err.message}: ${JSON.stringify(err.extra.rows ?? [])}`, 1);
          if (err instanceof ConflictError) throw new CliError(`${err.message}; nothing was written`, 1);
          throw err;
        });
        for (const s of r.skipped) io.stderr.write(`skipped ${s.message}\n`);
        printChanges(io, r, 'not in the directory');
        const counts = countsOf(r);
        io.stdout.write(
          r.dryRun
            ? `dry run: ${r.people} people in ${r.directory}; would be ${counts}; nothing written\n`
            : `synchronized with ${r.directory}: ${r.people} people; ${counts}\n`,
        );
      }),
    );

  cmd
    .command('set-password')
    .description("set a user's password (read from standard input, or --password-file); ends their sessions")
    .argument('<username>')
    .option('--password-file <file>', 'read the password from this file (its first line)')
    .action(
      guarded(io, async (username: string, opts: { passwordFile?: string }) => {
        const text = opts.passwordFile
          ? await readSettingFileText(opts.passwordFile).catch((err: NodeJS.ErrnoException) => {
              throw new CliError(`cannot read ${opts.passwordFile}: ${err.code ?? err.message}`, 2);
            })
          : await readAll(io.stdin);
        const password = text.split(/\r?\n/)[0] ?? '';
        const ok = userBody.shape.password.safeParse(password);
        if (!ok.success || !password)
          throw new CliError('the password must have at least 8 and at most 200 characters', 2);
        await withDatabase(getConfig(), async (db) => {
          const u = await db.users.byUsername(username);
          if (!u) throw new CliError(`no user ${username}`, 1);
          if (u.directory)
            throw new CliError(`${username} signs in with their directory password (${u.directory})`, 1);
          await db.users.update(u.id, { password });
          await auditAs(db)('user.update', u.id, {
            username,
            fields: ['password (changed)'],
            changes: { password: 'set' },
          });
        });
        io.stdout.write(`password of ${username} set; their sessions ended\n`);
      }),
    );
  return cmd;
}
