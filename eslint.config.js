// Lint rules, including the import rules of the design (shared/design/ARCHITECTURE.md, "Who may import whom").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (files, patterns) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'data/', 'test-artifacts/', 'web/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  restrict(
    ['src/config.ts', 'src/log.ts', 'src/errors.ts'],
    [{ group: ['./*', '../*', '!./errors.js'], message: 'config, log and errors import nothing from src' }],
  ),
  restrict(
    ['src/sip/edge/**'],
    [
      { group: ['../../*', '!../../errors.js'], message: 'sip/edge uses Node built-ins only' },
      { group: ['drachtio-srf'], message: 'sip/edge must not import drachtio-srf' },
    ],
  ),
  restrict(
    ['src/store/**'],
    [
      {
        group: ['../*', '!../config.js', '!../log.js', '!../errors.js'],
        message: 'store imports only pg, config, log and errors',
      },
    ],
  ),
  restrict(
    ['src/media/**'],
    [
      {
        group: ['../*', '!../config.js', '!../log.js', '!../errors.js'],
        message: 'media imports only Node built-ins, the addon, config, log and errors',
      },
    ],
  ),
  restrict(
    ['src/sip/app/**'],
    [
      {
        group: ['../../*', '!../../recording/*', '!../../config.js', '!../../log.js', '!../../errors.js'],
        message: 'sip/app imports recording through its interface only',
      },
    ],
  ),
  restrict(
    ['src/recording/**'],
    [
      {
        group: ['../*', '!../media/*', '!../store/*', '!../config.js', '!../log.js', '!../errors.js'],
        message: 'recording imports media and store interfaces only',
      },
    ],
  ),
  restrict(
    ['src/pipeline/**'],
    [
      {
        group: ['../*', '!../media/*', '!../store/*', '!../config.js', '!../log.js', '!../errors.js'],
        message: 'pipeline imports media (mixer) and store only',
      },
    ],
  ),
  restrict(
    ['src/monitor/**'],
    [
      {
        group: [
          '../*',
          '!../recording/*',
          '!../store/*',
          '!../media/*',
          '!../config.js',
          '!../log.js',
          '!../errors.js',
        ],
        message: 'monitor reads recording, store and media only',
      },
    ],
  ),
);
