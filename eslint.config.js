// ESLint flat config: typescript-eslint's strict type-checked rules over all our TypeScript, and the
// dependency direction of docs/architecture.md as a rule (scripts/lint/layering-rule.js).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layeringRule } from './scripts/lint/layering-rule.js';

/** Who may import whom. Every layer whose `files` prefix matches a file applies to it. */
const LAYERS = [
  {
    files: 'src/core/',
    may: ['src/core/', 'node:crypto'],
    why: 'core is the protocol-free domain: it imports only core (node:crypto makes IDs), no XML, SQL or HTTP',
  },
  {
    files: 'src/frontend/usecases/',
    may: ['src/core/', 'src/frontend/usecases/', 'src/frontend/store/metadata-store.ts'],
    why: 'use cases see core, the store interface and the ports in usecases/, never a store, SOAP, security or wire types',
  },
  {
    files: 'src/frontend/store/',
    may: [
      'src/core/',
      'src/frontend/store/',
      'src/sql/',
      'src/sqlite/',
      'src/postgres/',
      'src/private-files.ts',
      'better-sqlite3',
      'node:fs',
      'node:path',
    ],
    why: 'a store knows core and its database (a private file), nothing of SOAP, security or the use cases',
  },
  {
    files: 'src/sql/',
    may: ['src/core/', 'src/sql/'],
    why: 'the SQL port is what a store needs of a database, and names none',
  },
  {
    files: 'src/sqlite/',
    may: ['src/core/', 'src/sql/', 'src/sqlite/', 'better-sqlite3'],
    why: 'the SQLite helpers every service shares know nothing of any service',
  },
  {
    files: 'src/postgres/',
    may: ['src/core/', 'src/sql/', 'src/postgres/', 'pg'],
    why: 'the PostgreSQL helpers every service shares know nothing of any service',
  },
  {
    files: 'src/soap/',
    mayNot: ['src/security/', 'src/frontend/', 'src/delegates/', 'src/cli/', 'src/server/', 'src/config/'],
    why: 'the SOAP layer is below security (which builds on it) and knows no service',
  },
  {
    files: 'src/security/',
    mayNot: ['src/frontend/', 'src/delegates/', 'src/cli/', 'src/server/'],
    why: 'security serves every service and knows none of them',
  },
  {
    files: 'src/frontend/',
    mayNot: ['src/delegates/', 'src/cli/', 'src/server/'],
    why: 'the frontend talks to delegates over the network only',
  },
  {
    files: 'src/frontend/frontend-app.ts',
    mayNot: ['src/frontend/cluster/'],
    why: 'cluster/ runs the frontend on several processes and builds on frontend-app.ts, not the other way round',
  },
  {
    files: 'src/delegates/',
    mayNot: ['src/frontend/', 'src/cli/', 'src/server/'],
    why: 'a delegate talks to the frontend over the network only',
  },
  {
    files: 'src/cli/',
    mayNot: ['src/frontend/', 'src/delegates/', 'src/server/'],
    why: 'the CLI is a client: it speaks to the services over the network',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'var/', 'src/generated/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { vbs: { rules: { layering: layeringRule } } },
    rules: {
      'vbs/layering': ['error', { root: import.meta.dirname, layers: LAYERS }],
      // Numbers and booleans print exactly in messages; the rule's point (objects, undefined, null) stays.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `(v) => resolve(v)` is the idiom for callbacks; a void returned from a block body is still refused.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Sync bodies behind async interfaces (the SQLite store) must stay async, so that a throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
