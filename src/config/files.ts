/**
 * The settings that name something on disk, checked at start so that a bad one stops the server
 * with a line naming it instead of failing later (at the first recording, the first hook, the
 * first TLS handshake) or hanging (Node's recursive mkdir spins forever under /proc). One check
 * per kind: a directory the server creates, a program it runs, a PEM certificate and key.
 * Each returns what is wrong, or undefined.
 */
import { accessSync, constants, lstatSync, readlinkSync, statfsSync, statSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { delimiter, dirname, join, resolve } from 'node:path';
import { readSettingFileSync } from './setting-file.js';

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * A directory that exists, or that can be created: its nearest existing ancestor is a writable
 * directory on a filesystem that holds files (not /proc or /sys, not through a dangling link).
 */
export function directoryProblem(dir: string): string | undefined {
  let p = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const c = code(err);
      if (c !== 'ENOENT' && c !== 'ENOTDIR') return `cannot use ${p} (${c})`;
      try {
        if (lstatSync(p).isSymbolicLink())
          return `${p} is a symbolic link to ${readlinkSync(p)}, which does not exist`;
      } catch {
        // not there at all: look at its parent
      }
      if (dirname(p) === p) return `cannot use ${p} (${c})`;
      p = dirname(p);
      continue;
    }
    if (!st.isDirectory()) return `${p} is not a directory`;
    if (p === resolve(dir)) return undefined; // it exists: nothing to create
    // Only where the server must create it (Node's recursive mkdir spins forever under /proc).
    if (statfsSync(p).blocks === 0)
      return `${p} is on a filesystem that cannot hold files (such as /proc or /sys)`;
    try {
      accessSync(p, constants.W_OK | constants.X_OK);
    } catch {
      return `cannot create it: ${p} is not writable`;
    }
    return undefined;
  }
}

/** A program to run: a path to an executable file, or a name found in PATH (as spawn finds it). */
export function programProblem(command: string, path: string | undefined): string | undefined {
  const usable = (file: string): string | undefined => {
    try {
      if (!statSync(file).isFile()) return 'not a file';
      accessSync(file, constants.X_OK);
      return undefined;
    } catch (err) {
      const c = code(err);
      return c === 'ENOENT' ? 'no such file' : c === 'EACCES' ? 'not executable' : c;
    }
  };
  if (command.includes('/')) {
    const why = usable(command);
    return why && `cannot be run: ${why}`;
  }
  const dirs = (path ?? '').split(delimiter).filter((d) => d !== '');
  if (dirs.some((d) => usable(join(d, command)) === undefined)) return undefined;
  return `not found as an executable in PATH (${path ?? 'unset'})`;
}

/** What a PEM file holds: a certificate (bundle) or a private key, readable and parsable. */
function pemProblem(file: string, what: 'certificate' | 'key'): { pem?: string; problem?: string } {
  let pem: string;
  try {
    pem = readSettingFileSync(file).toString('utf8');
  } catch (err) {
    return { problem: `cannot read ${file} (${(err as Error).message})` };
  }
  try {
    if (what === 'certificate') new X509Certificate(pem);
    else createPrivateKey(pem);
    return { pem };
  } catch (err) {
    return {
      problem: `${file} is not a PEM ${what === 'key' ? 'private key' : 'certificate'} (${(err as Error).message})`,
    };
  }
}

/**
 * TLS files: certificate and key readable, parsable and matching; the CA bundle (optional) a
 * certificate. Problems by which of the three they concern.
 */
export function tlsProblems(
  cert: string,
  key: string,
  ca?: string,
): { cert?: string; key?: string; ca?: string } {
  const c = pemProblem(cert, 'certificate');
  const k = pemProblem(key, 'key');
  const a = ca === undefined ? {} : pemProblem(ca, 'certificate');
  const out: { cert?: string; key?: string; ca?: string } = {};
  if (c.problem) out.cert = c.problem;
  if (k.problem) out.key = k.problem;
  if (a.problem) out.ca = a.problem;
  if (c.pem && k.pem) {
    try {
      createSecureContext({ cert: c.pem, key: k.pem });
    } catch (err) {
      out.key = `${key} does not go with the certificate ${cert} (${(err as Error).message})`;
    }
  }
  return out;
}
