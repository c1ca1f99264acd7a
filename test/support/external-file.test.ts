/**
 * The rule for files a test needs from outside the repository (external-file.ts), on files made
 * here: where the file is looked for, and what a test that needs it is told when it is absent.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { externalFilePath, requireExternalFile, type ExternalFile } from './external-file.js';

const VAR = 'VBS_TEST_EXTERNAL_FILE';

class Skipped extends Error {}

/** Stands in for a mocha context: skip() ends the call, as mocha's does. */
const context = {
  skip(): never {
    throw new Skipped('skipped');
  },
};

/** Runs `body` with the environment variables set (undefined: unset) and console.log captured. */
function withEnv<T>(
  vars: Record<string, string | undefined>,
  body: () => T,
): { result: T | Skipped; logged: string[] } {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const log = console.log;
  const logged: string[] = [];
  console.log = (...args: unknown[]) => {
    logged.push(args.map(String).join(' '));
  };
  try {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
    try {
      return { result: body(), logged };
    } catch (e) {
      if (e instanceof Skipped) return { result: e, logged };
      throw e;
    }
  } finally {
    console.log = log;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Reflect.deleteProperty(process.env, k);
      else process.env[k] = v;
    }
  }
}

describe('test support: files a test needs from outside the repository', () => {
  let dir = '';
  let file: ExternalFile;
  let atDefault = '';
  let elsewhere = '';

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vbs-external-'));
    atDefault = join(dir, 'default.wsdl');
    elsewhere = join(dir, 'elsewhere.wsdl');
    writeFileSync(atDefault, 'default');
    writeFileSync(elsewhere, 'elsewhere');
    file = { what: 'the test file', envVar: VAR, defaultPath: atDefault };
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is looked for at $VAR when set and not empty, else at the default place', () => {
    expect(withEnv({ [VAR]: undefined }, () => externalFilePath(file)).result).to.equal(atDefault);
    expect(withEnv({ [VAR]: '' }, () => externalFilePath(file)).result).to.equal(atDefault);
    expect(withEnv({ [VAR]: elsewhere }, () => externalFilePath(file)).result).to.equal(elsewhere);
    // A relative path is the working directory's.
    expect(withEnv({ [VAR]: 'x.wsdl' }, () => externalFilePath(file)).result).to.equal(resolve('x.wsdl'));
  });

  it('gives the path of a file that is there, with or without CI', () => {
    for (const ci of [undefined, 'true']) {
      expect(withEnv({ [VAR]: undefined, CI: ci }, () => requireExternalFile(context, file)).result).to.equal(
        atDefault,
      );
      expect(withEnv({ [VAR]: elsewhere, CI: ci }, () => requireExternalFile(context, file)).result).to.equal(
        elsewhere,
      );
    }
  });

  it('skips, saying which file and from where, when it is absent and CI is not true', () => {
    const missing = join(dir, 'missing.wsdl');
    for (const ci of [undefined, '', 'false', '1']) {
      // A set variable naming a missing file is absent, though the default place has one.
      const named = withEnv({ [VAR]: missing, CI: ci }, () => requireExternalFile(context, file));
      expect(named.result, `CI=${String(ci)}`).to.be.instanceOf(Skipped);
      expect(named.logged).to.deep.equal([
        `      SKIPPED: the test file: no readable file at ${missing} (named by $${VAR}, which wins over the default place ${atDefault}).`,
      ]);
    }
    const gone = { ...file, defaultPath: missing };
    const byDefault = withEnv({ [VAR]: undefined, CI: undefined }, () => requireExternalFile(context, gone));
    expect(byDefault.result).to.be.instanceOf(Skipped);
    expect(byDefault.logged).to.deep.equal([
      `      SKIPPED: the test file: no readable file at ${missing} (the default place; set $${VAR} to use another).`,
    ]);
    // A directory is not the file.
    expect(withEnv({ [VAR]: dir, CI: undefined }, () => requireExternalFile(context, file)).result).to.be.instanceOf(
      Skipped,
    );
  });

  it('fails, saying which file and from where, when it is absent and CI=true', () => {
    const missing = join(dir, 'missing.wsdl');
    const gone = { ...file, defaultPath: missing };
    expect(() => withEnv({ [VAR]: missing, CI: 'true' }, () => requireExternalFile(context, file))).to.throw(
      Error,
      `the test file: no readable file at ${missing} (named by $${VAR}, which wins over the default place ${atDefault}). CI=true: a test that needs it fails rather than skips.`,
    );
    expect(() => withEnv({ [VAR]: undefined, CI: 'true' }, () => requireExternalFile(context, gone))).to.throw(
      Error,
      `the test file: no readable file at ${missing} (the default place; set $${VAR} to use another). CI=true`,
    );
  });
});
