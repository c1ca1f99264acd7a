/**
 * A job's files (src/delegates/volume/job-files.ts): the resource's file is written once, by the
 * first attempt to publish, and no later attempt replaces it; deleting a resource removes its file
 * and its jobs' partial files, and nothing of any other resource.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '../../../src/core/ids.js';
import { partialFilePath, publish, removeResourceFiles } from '../../../src/delegates/volume/job-files.js';

describe('Volume Delegate: job files', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vbs-jobfiles-'));
    mkdirSync(join(root, 'volumes'));
    mkdirSync(join(root, 'snapshots'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('publishes the first attempt, and keeps it when another attempt of the job publishes later', async () => {
    const vol = newId('vol');
    const job = newId('job');
    const first = partialFilePath(vol, job, 'vd-1');
    const second = partialFilePath(vol, job, 'vd-2');
    expect(first).to.not.equal(second);
    writeFileSync(join(root, first), 'first');
    writeFileSync(join(root, second), 'second');
    expect(await publish(root, vol, first)).to.equal('made');
    expect(await publish(root, vol, second)).to.equal('exists');
    expect(readFileSync(join(root, 'volumes', `${vol}.img`), 'utf8')).to.equal('first');
    expect(readdirSync(join(root, 'volumes'))).to.deep.equal([`${vol}.img`]);
  });

  it("removes a resource's file and its jobs' partial files, and no other resource's", async () => {
    const vol = newId('vol');
    const other = newId('vol');
    const job = newId('job');
    writeFileSync(join(root, 'volumes', `${vol}.img`), 'x');
    writeFileSync(join(root, partialFilePath(vol, job, 'vd-1')), 'x');
    writeFileSync(join(root, partialFilePath(vol, newId('job'), 'vd-2')), 'x');
    writeFileSync(join(root, 'volumes', `${other}.img`), 'y');
    writeFileSync(join(root, partialFilePath(other, job, 'vd-1')), 'y');
    expect(await removeResourceFiles(root, vol)).to.equal(true);
    expect(readdirSync(join(root, 'volumes')).sort()).to.deep.equal(
      [`${other}.img`, `${other}.${job}.vd-1.part`].sort(),
    );
    expect(await removeResourceFiles(root, vol), 'twice is harmless').to.equal(false);
  });
});
