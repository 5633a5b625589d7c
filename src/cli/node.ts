import { Command } from 'commander';
import type { Config } from '../config.js';
import type { NodeRow } from '../store/nodes.js';
import { NotFoundError } from '../errors.js';
import { abandonReasonProblem, forgetDetails, forgetNode, NodeForgetRefused } from '../store/node-forget.js';
import { nodesRepository } from '../store/nodes.js';
import { cliActor, CliError, guarded, withDatabase, type CliIo } from './common.js';

/**
 * `srs node list | drain | forget`. The drain is a flag in the node registry (Postgres), which the
 * node sees at once (NOTIFY) or at its next heartbeat: it works for the local node (the default,
 * SRS_NODE_ID) and for any other node of the cluster, from any machine that reaches the database.
 * `forget` removes a dead node from the registry (src/store/node-forget.ts says when it may).
 */

const table = (rows: NodeRow[]): string =>
  rows.length === 0
    ? 'no node has registered\n'
    : rows
        .map(
          (n) =>
            `${n.id.padEnd(16)} ${n.status.padEnd(9)} calls ${String(n.activeCalls).padStart(5)}/${n.maxSessions}  sip ${n.sipAddress}  http ${n.httpAddress}  heartbeat ${n.heartbeatAgeSeconds}s ago`,
        )
        .join('\n') + '\n';

export function nodeCommand(
  getConfig: () => Config,
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Command {
  const cmd = new Command('node').description(
    'the nodes of the cluster: list them, drain one, forget one that is gone for good',
  );

  cmd
    .command('list')
    .description('list the registered nodes and their status (down: 3 heartbeats missed)')
    .option('--json', 'print a JSON array')
    .action(
      guarded(io, async (opts: { json?: boolean }) => {
        const rows = await withDatabase(getConfig(), (db) => nodesRepository(db.pool).list());
        io.stdout.write(opts.json ? JSON.stringify(rows, null, 2) + '\n' : table(rows));
      }),
    );

  cmd
    .command('drain')
    .description(
      'stop a node taking new calls (OPTIONS and INVITE 503), let its live calls end and its recordings be stored, then it exits',
    )
    .argument('[id]', 'node id (default: this node, SRS_NODE_ID)')
    .option('--no-wait', 'return once the drain is requested')
    .option('--timeout <seconds>', 'give up waiting after this long (exit 3)', (v) => Number(v), 0)
    .action(
      guarded(io, async (id: string | undefined, opts: { wait: boolean; timeout: number }) => {
        if (!Number.isFinite(opts.timeout) || opts.timeout < 0)
          throw new CliError('--timeout must be a number of seconds >= 0', 2);
        const config = getConfig();
        const nodeId = id ?? config.cluster.nodeId;
        await withDatabase(config, async (db) => {
          const nodes = nodesRepository(db.pool);
          const before = await nodes.get(nodeId);
          if (!before) throw new CliError(`no node "${nodeId}" in the registry (srs node list)`, 2);
          if (before.status === 'down' || before.status === 'stopped')
            throw new CliError(`node "${nodeId}" is ${before.status}: nothing to drain`, 2);
          if (!(await nodes.requestDrain(nodeId)))
            throw new CliError(`node "${nodeId}" stopped meanwhile`, 2);
          io.stdout.write(`node ${nodeId}: drain requested (${before.activeCalls} live call(s))\n`);
          if (!opts.wait) return;
          const until = opts.timeout > 0 ? Date.now() + opts.timeout * 1000 : Infinity;
          let last = '';
          for (;;) {
            const n = await nodes.get(nodeId);
            if (!n || n.status === 'stopped' || n.status === 'down') {
              io.stdout.write(`node ${nodeId}: ${n?.status ?? 'gone'}\n`);
              return;
            }
            const line = `node ${nodeId}: ${n.status}, ${n.activeCalls} live call(s)\n`;
            if (line !== last) io.stdout.write(line);
            last = line;
            if (Date.now() > until)
              throw new CliError(`node ${nodeId} still ${n.status} after ${opts.timeout} s`, 3);
            await new Promise((r) => setTimeout(r, 500));
          }
        });
      }),
    );
  cmd
    .command('forget')
    .description(
      'remove a node that is gone for good from the registry (refused while it is alive or while recordings wait for its data directory, unless they are given up)',
    )
    .argument('<id>', 'node id (srs node list)')
    .option(
      '--abandon-recordings',
      'its data directory is lost for good: mark the recordings that wait for it failed (each audited recording.abandon)',
    )
    .option('--reason <text>', 'why they are given up (required with --abandon-recordings)')
    .action(
      guarded(io, async (id: string, opts: { abandonRecordings?: boolean; reason?: string }) => {
        const reason = opts.reason?.trim() ?? '';
        const problem = opts.abandonRecordings ? abandonReasonProblem(reason) : undefined;
        if (problem) throw new CliError(`--abandon-recordings needs --reason <text>: ${problem}`, 2);
        if (!opts.abandonRecordings && opts.reason !== undefined)
          throw new CliError('--reason goes with --abandon-recordings', 2);
        const n = await withDatabase(getConfig(), (db) =>
          forgetNode(
            db.pool,
            id,
            (node) => ({
              actor: cliActor(),
              actorRole: 'admin',
              ip: '',
              via: 'cli',
              action: 'node.forget',
              resource: 'node',
              resourceId: id,
              details: forgetDetails(node, reason),
            }),
            opts.abandonRecordings ? { reason } : undefined,
          ),
        ).catch((err: unknown) => {
          if (err instanceof NotFoundError) throw new CliError(err.message, 2);
          if (err instanceof NodeForgetRefused) throw new CliError(err.message, 3);
          throw err;
        });
        io.stdout.write(
          `node ${id}: forgotten (was ${n.status}, last heartbeat ${n.heartbeatAgeSeconds}s ago, ${n.calls} registry call row(s) removed)\n`,
        );
        if (n.abandoned.length > 0)
          io.stdout.write(
            `node ${id}: ${n.abandoned.length} recording(s) given up, marked failed: ${n.abandoned.join(' ')}\n`,
          );
      }),
    );
  return cmd;
}
