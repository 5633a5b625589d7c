/** The installed version (package.json, one level above src/ and dist/): `srs --version`, the ready line, srs_build_info. */
import { readFileSync } from 'node:fs';

export const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
