import { expect } from 'chai';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PathRefusedError, resolveInRoot } from '../../../src/delegates/volume/storage-root.js';
import { makeTempDir, removeDir } from './helpers.js';

describe('volume/storage-root resolveInRoot()', () => {
  let base: string;
  let root: string;
  let realRoot: string;
  let outside: string;

  before(async () => {
    base = await makeTempDir('root');
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await mkdir(path.join(root, 'volumes'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 'secret');
    await writeFile(path.join(root, 'plain-file'), '');
    realRoot = await realpath(root);
    await symlink(outside, path.join(root, 'escape-dir'));
    await symlink(path.join(outside, 'secret'), path.join(root, 'escape-file'));
    await symlink(path.join(outside, 'not-yet'), path.join(root, 'dangling'));
    await symlink('../outside', path.join(root, 'relative-escape'));
    await symlink(path.join(root, 'volumes'), path.join(root, 'inner-link'));
    await symlink('.', path.join(root, 'self'));
  });
  after(() => removeDir(base));

  const refused = (relPath: string): void => {
    expect(() => resolveInRoot(root, relPath), JSON.stringify(relPath)).to.throw(PathRefusedError);
  };

  it('accepts a plain name and returns it under the real root', () => {
    expect(resolveInRoot(root, 'vol-0001.img')).to.equal(path.join(realRoot, 'vol-0001.img'));
    expect(resolveInRoot(root, 'volumes/v_1.raw')).to.equal(path.join(realRoot, 'volumes', 'v_1.raw'));
  });

  it('accepts names whose directories do not exist yet', () => {
    expect(resolveInRoot(root, 'new/deeper/vol')).to.equal(path.join(realRoot, 'new', 'deeper', 'vol'));
  });

  it('resolves a symlink that stays inside the root', () => {
    expect(resolveInRoot(root, 'inner-link/vol')).to.equal(path.join(realRoot, 'volumes', 'vol'));
  });

  it('refuses empty, absolute and traversal paths', () => {
    for (const p of ['', '/etc/passwd', '/', '..', '../x', 'a/../b', 'a/..', '.', './a', 'a/./b']) refused(p);
  });

  it('refuses empty segments, backslashes and NUL', () => {
    for (const p of ['a//b', 'a/', '/a', 'a\\b', '..\\x', 'a\0b', 'vol\0']) refused(p);
  });

  it('refuses segments that do not start with a letter or digit, or carry other characters', () => {
    for (const p of ['.hidden', '-rf', '_x', 'a b', 'a;b', 'vol$', 'é', 'a/b c', 'a:b', 'a'.repeat(256)]) refused(p);
  });

  it('refuses symlinks planted inside the root that lead outside', () => {
    for (const p of ['escape-dir', 'escape-dir/secret', 'escape-dir/new-file', 'escape-file', 'relative-escape/x'])
      refused(p);
  });

  it('refuses a dangling symlink, which would create its target', () => {
    refused('dangling');
  });

  it('refuses a path that resolves to the root itself', () => {
    refused('self');
  });

  it('refuses going through a regular file', () => {
    refused('plain-file/x');
  });

  it('refuses everything when the root does not exist', () => {
    expect(() => resolveInRoot(path.join(base, 'missing-root'), 'vol')).to.throw(PathRefusedError, /storage root/);
  });

  it('says which path was refused and why', () => {
    expect(() => resolveInRoot(root, 'escape-dir/secret')).to.throw(PathRefusedError, /escape-dir\/secret.*outside/);
  });
});
