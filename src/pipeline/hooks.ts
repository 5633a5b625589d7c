import { spawn } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { belowPolicyMessage, DEFAULT_TLS_POLICY, type TlsPolicy } from '../config/tls-policy.js';
import type { CatalogueFile } from '../store/chain.js';
import type { RecordingRow } from '../store/types.js';

/**
 * User hooks run after a recording is stored: an HTTP webhook (POST of a JSON document) and/or an
 * executable (the same document on its stdin, the id in SRS_RECORDING_ID). They run from their own
 * pg-boss queue, so a slow or failing hook never holds up recording or finalizing; a failure is
 * logged and retried with backoff. Delivery is at-least-once (a crash after the POST and before the
 * job is marked done sends it again): each POST carries `Idempotency-Key: <id>:<event>`, the same
 * on every attempt, for the receiver to drop a repeat. Redirects are not followed (a 3xx fails the
 * attempt) and the answer's body is never read. An https:// receiver is held to the TLS policy
 * (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS): node:https, since Node's bundled fetch takes no TLS options.
 */

export interface HookOptions {
  /** http(s) URL to POST the document to; a 2xx answer is success. */
  url?: string | undefined;
  /** Path of an executable; exit status 0 is success. */
  command?: string | undefined;
  /** Per delivery (default 30). */
  timeoutSeconds?: number;
  /** Hook jobs run at once by this process, each a different recording's (default 4). */
  concurrency?: number;
  /**
   * The command's whole environment besides SRS_RECORDING_ID and SRS_HOOK_EVENT (config: PATH and
   * the names in SRS_HOOK_ENV). Never the server's environment: it holds the key passphrase and tokens.
   */
  env?: Readonly<Record<string, string>>;
  /** The TLS policy of an https:// webhook (SRS_TLS_MIN_VERSION, SRS_TLS_CIPHERS); default: the settings' defaults. */
  tlsPolicy?: TlsPolicy | undefined;
}

export interface HookDocument {
  event: 'recording.stored';
  id: string;
  callId: string;
  sessionId: string | null;
  srcAddress: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  interrupted: boolean;
  participants: { participantId: string; aor: string | null; name: string | null }[];
  /** Its custom field values (docs/api.md#custom-fields), by field name; {} when none. */
  fields: Record<string, string>;
  files: Omit<CatalogueFile, 'recordingId'>[];
}

export function hookDocument(r: RecordingRow, fields: Record<string, string> = {}): HookDocument {
  return {
    event: 'recording.stored',
    id: r.id,
    callId: r.callId,
    sessionId: r.sessionId,
    srcAddress: r.srcAddress,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt ? r.endedAt.toISOString() : null,
    durationMs: r.durationMs,
    interrupted: r.interrupted,
    participants: r.participants.map((p) => ({ participantId: p.participantId, aor: p.aor, name: p.name })),
    fields,
    files: r.files.map((f) => ({
      kind: f.kind,
      path: f.path,
      bytes: Number(f.bytes),
      sha256Plain: f.sha256Plain,
      sha256Cipher: f.sha256Cipher,
      keyFingerprint: f.keyFingerprint,
    })),
  };
}

export async function postWebhook(
  url: string,
  doc: HookDocument,
  timeoutSeconds: number,
  tls: TlsPolicy = DEFAULT_TLS_POLICY,
): Promise<void> {
  const body = JSON.stringify(doc);
  let res: { status: number; location: string | undefined };
  try {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    res = await new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        u,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'siprec-recorder',
            'idempotency-key': `${doc.id}:${doc.event}`,
          },
          signal: AbortSignal.timeout(timeoutSeconds * 1000),
          ...(secure && { minVersion: tls.minVersion, ciphers: tls.ciphers }),
        },
        // Only the status counts: the body is dropped unread (a receiver could answer gigabytes).
        // The document goes to the configured address only, never on to a Location (another host,
        // 127.0.0.1, a cloud metadata endpoint): a 3xx answer is a failure.
        (answer) => {
          resolve({ status: answer.statusCode ?? 0, location: answer.headers.location });
          answer.on('error', () => undefined);
          answer.destroy();
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  } catch (err) {
    const e = err as Error;
    // node:http reports only 'The operation was aborted' (the TimeoutError is its cause): name the limit.
    if (e.name === 'TimeoutError' || (e.cause as Error | undefined)?.name === 'TimeoutError')
      throw new Error(`webhook ${url}: no answer within ${timeoutSeconds} s (SRS_HOOK_TIMEOUT_SECONDS)`);
    throw new Error(`webhook ${url}: ${belowPolicyMessage(e, tls, 'the webhook receiver') ?? e.message}`);
  }
  if (res.status >= 300 && res.status < 400)
    throw new Error(
      `webhook ${url} answered ${res.status} (a redirect to ${res.location ?? 'nowhere'}, not followed: set SRS_HOOK_URL to the final address)`,
    );
  if (res.status < 200 || res.status > 299) throw new Error(`webhook ${url} answered ${res.status}`);
}

export function runHookCommand(
  command: string,
  doc: HookDocument,
  timeoutSeconds: number,
  env: Readonly<Record<string, string>> = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, [doc.id], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...env, SRS_RECORDING_ID: doc.id, SRS_HOOK_EVENT: doc.event },
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutSeconds * 1000);
    p.once('error', (err) => {
      clearTimeout(t);
      reject(new Error(`hook ${command}: ${err.message}`));
    });
    // Done when the command exits, not at 'close': a process it left in the background (`curl ...
    // &`) keeps the stderr it inherited open, and 'close' waited for that (the hook queue stuck
    // behind it). What the command wrote to stderr is read for at most a second more.
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      const settle = () => {
        clearTimeout(grace);
        p.stderr.destroy();
        if (code === 0) resolve();
        else
          reject(
            new Error(
              `hook ${command} ${signal ? `killed by ${signal}` : `exited ${code}`}${stderr ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`,
            ),
          );
      };
      const grace = setTimeout(settle, 1000);
      if (p.stderr.readableEnded) settle();
      else p.stderr.once('end', settle);
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(JSON.stringify(doc));
  });
}
