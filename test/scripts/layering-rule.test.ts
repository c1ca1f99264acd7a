/**
 * The layering rule (scripts/lint/layering-rule.js) refuses what docs/architecture.md forbids and
 * lets the rest through: relative specifiers resolved from the importing file, packages by name,
 * allow-lists and deny-lists, every matching layer applied.
 */
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { layeringRule } from '../../scripts/lint/layering-rule.js';

const ROOT = '/repo';
const LAYERS = [
  { files: 'src/core/', may: ['src/core/', 'node:crypto'], why: 'core imports only core' },
  { files: 'src/soap/', mayNot: ['src/security/'], why: 'soap is below security' },
  { files: 'src/frontend/', mayNot: ['src/delegates/'], why: 'no delegates in the frontend' },
  { files: 'src/frontend/usecases/', may: ['src/core/', 'src/frontend/store/metadata-store.ts'], why: 'ports only' },
];
const options = [{ root: ROOT, layers: LAYERS }];
const at = (file: string, code: string): RuleTester.ValidTestCase => ({ filename: `${ROOT}/${file}`, code, options });
const refused = (file: string, code: string, target: string, why: string): RuleTester.InvalidTestCase => ({
  ...at(file, code),
  errors: [{ message: `${file} may not import ${target}: ${why}.` }],
});

const tester = new RuleTester({ languageOptions: { parser: tseslint.parser } });

tester.run('vbs/layering', layeringRule, {
  valid: [
    at('src/core/paths.ts', "import { isId } from './ids.js';"),
    at('src/core/ids.ts', "import { randomBytes } from 'node:crypto';"),
    at('src/soap/server.ts', "import { VbsError } from '../core/errors.js';"),
    at('src/frontend/usecases/x.ts', "import type { MetadataStore } from '../store/metadata-store.js';"),
    at('src/frontend/usecases/x.ts', "import { VbsError } from '../../core/errors.js';"),
    // Files outside every layer (tests, bench) are not checked.
    at('test/x.test.ts', "import '../src/delegates/exec.js';"),
  ],
  invalid: [
    refused('src/core/paths.ts', "import { readFileSync } from 'node:fs';", 'node:fs', 'core imports only core'),
    refused('src/core/paths.ts', "import '../soap/envelope.js';", 'src/soap/envelope.ts', 'core imports only core'),
    refused('src/core/paths.ts', "export { x } from '../log.js';", 'src/log.ts', 'core imports only core'),
    refused(
      'src/soap/server.ts',
      "import type { Signer } from '../security/wssec/sign.js';",
      'src/security/wssec/sign.ts',
      'soap is below security',
    ),
    refused(
      'src/soap/a/b.ts',
      "const m = import('../../security/x.js');",
      'src/security/x.ts',
      'soap is below security',
    ),
    refused(
      'src/frontend/usecases/x.ts',
      "import { SqliteStore } from '../store/sqlite-store.js';",
      'src/frontend/store/sqlite-store.ts',
      'ports only',
    ),
    // The frontend's deny-list applies inside usecases/ too, and is reported first.
    refused(
      'src/frontend/usecases/x.ts',
      "import '../../delegates/exec.js';",
      'src/delegates/exec.ts',
      'no delegates in the frontend',
    ),
  ],
});
