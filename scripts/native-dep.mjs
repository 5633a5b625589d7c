// Used by binding.gyp: prints the compiler or linker flags of a Debian -dev library, found with
// pkg-config, else by its header and library; fails the build with the apt-get line otherwise.
// node scripts/native-dep.mjs <pkg-config name> <header> <-lname> <debian package> --cflags|--libs
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';

const [name, header, lib, debPackage, what] = process.argv.slice(2);
if (!name || !header || !lib || !debPackage || (what !== '--cflags' && what !== '--libs')) {
  process.stderr.write('usage: native-dep.mjs <pkg> <header> <-lname> <debian package> --cflags|--libs\n');
  process.exit(2);
}
try {
  process.stdout.write(
    execFileSync('pkg-config', [what, name], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim(),
  );
  process.exit(0);
} catch {
  // pkg-config absent, or this library ships no .pc file (libmp3lame before Debian 13): look for it.
}
const incDirs = ['/usr/include', '/usr/local/include'];
const libDirs = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib',
  '/usr/local/lib',
  '/usr/lib64',
];
const so = `lib${lib.replace(/^-l/, '')}.so`;
if (incDirs.some((d) => existsSync(`${d}/${header}`)) && libDirs.some((d) => existsSync(`${d}/${so}`))) {
  process.stdout.write(what === '--libs' ? lib : '');
  process.exit(0);
}
process.stderr.write(
  `\nsrs native build: ${header} / ${so} not found (pkg-config ${name}).\n` +
    `Install it with:  sudo apt-get install ${debPackage}\n\n`,
);
process.exit(1);
