import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** Most a file named in the settings (configuration, certificate, key, password, template) may hold. */
export const SETTING_FILE_MAX = 1 << 20;

function notSettingFile(path: string, st: Stats): Error | undefined {
  if (st.isFile()) return undefined;
  const what = st.isDirectory() ? 'a directory' : 'not a regular file (a FIFO, socket or device)';
  return new Error(`${path} is ${what}`);
}
const tooLarge = (path: string, max: number) => new Error(`${path} is larger than ${max} bytes`);

/**
 * A file named in the settings, read whole: a regular file of at most `max` bytes. A FIFO is
 * opened without waiting for a writer and refused, like a device or a directory: reading one
 * blocked the start for ever (a FIFO) or without end (/dev/zero).
 */
export function readSettingFileSync(path: string, max = SETTING_FILE_MAX): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const bad = notSettingFile(path, fstatSync(fd));
    if (bad) throw bad;
    const chunks: Buffer[] = [];
    let total = 0;
    // To the end, not to the size stat gave: /proc files say 0, a growing file says too little.
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      total += n;
      if (total > max) throw tooLarge(path, max);
      chunks.push(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** readSettingFile as UTF-8 text. */
export async function readSettingFileText(path: string, max = SETTING_FILE_MAX): Promise<string> {
  return (await readSettingFile(path, max)).toString('utf8');
}

/** readSettingFileSync without blocking the event loop. */
export async function readSettingFile(path: string, max = SETTING_FILE_MAX): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const bad = notSettingFile(path, await fh.stat());
    if (bad) throw bad;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(64 * 1024), 0, 64 * 1024, null);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      total += bytesRead;
      if (total > max) throw tooLarge(path, max);
      chunks.push(buffer.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
}
