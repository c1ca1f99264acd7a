import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { generatedFiles } from '../../scripts/gen-types.js';
import { REPO_ROOT } from '../support/repo.js';

describe('generated types', () => {
  it('are what `npm run gen` makes from wsdl/ today', () => {
    const files = generatedFiles(REPO_ROOT);
    expect(files.size).to.equal(3);
    for (const [path, text] of files) {
      expect(readFileSync(path, 'utf8'), `${path} is stale: run npm run gen`).to.equal(text);
    }
  });
});
