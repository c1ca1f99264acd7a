import { expect } from 'chai';
import { ExecError, run } from '../../src/delegates/exec.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('delegates/exec run()', () => {
  it('passes each argument literally, with no shell in between', async () => {
    const tricky = ['a b; echo injected', '$(id -u)', '`uname`', "it's", '*', '>out', ''];
    const { stdout } = await run(['printf', '[%s]\\n', ...tricky]);
    expect(stdout.split('\n')).to.deep.equal(tricky.map((a) => `[${a}]`));
  });

  it('returns stdout and stderr separately', async () => {
    const result = await run(['sh', '-c', 'echo out; echo err >&2']);
    expect(result).to.deep.equal({ stdout: 'out', stderr: 'err' });
  });

  it('turns a missing executable into an ExecError without an exit code', async () => {
    const error = await rejection(run(['vbs-no-such-program-xyz', 'arg']));
    expect(error).to.be.instanceOf(ExecError);
    const e = error as ExecError;
    expect(e.exitCode).to.equal(undefined);
    expect(e.argv).to.deep.equal(['vbs-no-such-program-xyz', 'arg']);
    expect(e.message).to.match(/ENOENT/);
    expect(e.cause).to.be.instanceOf(Error);
  });

  it('turns a non-zero exit into an ExecError with exitCode and trimmed stderr', async () => {
    const error = await rejection(run(['sh', '-c', 'echo "  it broke  " >&2; exit 3']));
    expect(error).to.be.instanceOf(ExecError);
    const e = error as ExecError;
    expect(e.exitCode).to.equal(3);
    expect(e.stderr).to.equal('it broke');
    expect(e.message).to.contain('exited with code 3').and.to.contain('it broke');
  });

  it('passes the given environment', async () => {
    const { stdout } = await run(['sh', '-c', 'printf %s "$VBS_TEST_VALUE"'], { env: { VBS_TEST_VALUE: 'x y;z' } });
    expect(stdout).to.equal('x y;z');
  });

  it('kills a command that outlives its timeout', async () => {
    const started = Date.now();
    const e = (await rejection(run(['sleep', '10'], { timeoutMs: 200 }))) as ExecError;
    expect(e).to.be.instanceOf(ExecError);
    expect(e.timedOut).to.equal(true);
    expect(Date.now() - started).to.be.below(5000);
  });

  it('kills a command when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    const e = (await rejection(run(['sleep', '10'], { signal: controller.signal }))) as ExecError;
    expect(e).to.be.instanceOf(ExecError);
    expect(e.canceled).to.equal(true);
    expect(Date.now() - started).to.be.below(5000);
  });
});
