// Lint rules, including the import rules of the design (shared/design/ARCHITECTURE.md, "Who may import whom").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Top-level modules of src/ and which of them each folder may import.
const MODULES = [
  'config',
  'log',
  'errors',
  'app',
  'cli',
  'api',
  'monitor',
  'pipeline',
  'recording',
  'sip',
  'store',
  'media',
  'delivery',
];
const BASE = ['config', 'log', 'errors'];

/** Forbid every src module not in `allowed` for `files` (matched by path segment, at any depth). */
const only = (files, allowed, message, extra = []) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: MODULES.filter((m) => !allowed.includes(m)).flatMap((m) => [`**/${m}/*`, `**/${m}.js`]),
            message,
          },
          ...extra,
        ],
      },
    ],
  },
});

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
  only(
    ['src/config.ts', 'src/log.ts', 'src/errors.ts'],
    BASE,
    'config, log and errors import nothing from src',
  ),
  only(['src/sip/edge/**'], ['errors'], 'sip/edge uses Node built-ins only', [
    { group: ['drachtio-srf'], message: 'sip/edge must not import drachtio-srf' },
  ]),
  only(['src/store/**'], BASE, 'store imports only pg, config, log and errors'),
  only(['src/media/**'], BASE, 'media imports only Node built-ins, the addon, config, log and errors'),
  only(['src/sip/app/**'], [...BASE, 'recording'], 'sip/app reaches recording through its interface only'),
  only(
    ['src/recording/**'],
    [...BASE, 'media', 'store'],
    'recording imports media and store interfaces only',
  ),
  only(['src/pipeline/**'], [...BASE, 'media', 'store'], 'pipeline imports media (mixer) and store only'),
  only(
    ['src/delivery/**'],
    [...BASE, 'store', 'pipeline'],
    'delivery imports store, pipeline (decryption), config, log and errors only',
  ),
  only(
    ['src/monitor/**', 'src/api/**'],
    [...BASE, 'recording', 'store', 'media'],
    'monitor/api read recording, store and media only',
  ),
);
