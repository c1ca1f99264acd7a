/**
 * The replay check of a clustered frontend, without processes: the verifier's own authenticators
 * wrapped by withSharedReplays, two "workers" over one shared cache (the primary's MemoryReplayCache,
 * asked through the real IPC protocol over an in-memory channel). What one worker accepted, the other
 * refuses; the primary's `since` is the one the verifier applies; anything the wrapper cannot check
 * is refused, never let through.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { userAuthenticator } from '../../../src/security/authenticators.js';
import { MemoryReplayCache, type ReplayAnswer, type ReplayCache } from '../../../src/security/wssec/replay-cache.js';
import { signEnvelope } from '../../../src/security/wssec/sign.js';
import { parseEnvelope } from '../../../src/soap/envelope.js';
import type { Authenticator } from '../../../src/soap/server.js';
import { answerReplayQuestions, ReplayCacheClient, type Channel } from '../../../src/frontend/cluster/replay-ipc.js';
import {
  REPLAYED_MESSAGE,
  withSharedReplays,
  type SharedReplayCache,
} from '../../../src/security/wssec/shared-replay.js';
import { CREATE_VOLUME, fixtures } from './helpers.js';

const request = new IncomingMessage(new Socket());
const SETTINGS = { clockSkewSeconds: 30, allowSha1: false };

/** A worker's end of an IPC channel whose primary answers from `cache` (asynchronously, as IPC does). */
function channelTo(cache: ReplayCache): Channel & { questions: number } {
  const worker = new EventEmitter();
  const channel = {
    questions: 0,
    send: (message: unknown, callback: (error: Error | null) => void): boolean => {
      channel.questions++;
      setImmediate(() => {
        answerReplayQuestions(cache, message, (answers) => worker.emit('message', answers));
        callback(null);
      });
      return true;
    },
    on: (event: 'message', listener: (message: unknown) => void) => worker.on(event, listener),
  };
  return channel;
}

const users = (cache: ReplayCache): Authenticator =>
  userAuthenticator(fixtures().store.resolve, ['root'], SETTINGS, cache);

async function refusal(p: Promise<unknown>): Promise<{ code?: unknown; message: string; name: string }> {
  const e: unknown = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof Error)) return expect.fail('expected a refusal');
  return { code: (e as { code?: unknown }).code, message: e.message, name: e.name };
}

describe('clustered frontend: the shared replay check', () => {
  it("refuses on one worker what another accepted, with the verifier's message", async () => {
    const primary = new MemoryReplayCache();
    const one = withSharedReplays(users, new ReplayCacheClient(primary.since, channelTo(primary)));
    const two = withSharedReplays(users, new ReplayCacheClient(primary.since, channelTo(primary)));
    const message = signEnvelope(CREATE_VOLUME, fixtures().alice);
    expect(await one(parseEnvelope(message), request)).to.deep.equal({ userId: 'alice', admin: false });
    for (const worker of [two, one]) {
      expect(await refusal(worker(parseEnvelope(message), request))).to.deep.include({
        code: 'AuthFailure',
        message: REPLAYED_MESSAGE,
      });
    }
    // Another message is still accepted by either.
    expect(await two(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request)).to.deep.equal({
      userId: 'alice',
      admin: false,
    });
    expect(primary.size).to.equal(2);
  });

  it('accepts exactly one of the same message sent to both workers at once', async () => {
    const primary = new MemoryReplayCache();
    const workers = [0, 1].map(() =>
      withSharedReplays(users, new ReplayCacheClient(primary.since, channelTo(primary))),
    );
    const message = signEnvelope(CREATE_VOLUME, fixtures().alice);
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (workers[i % 2] ?? expect.fail('no worker'))(parseEnvelope(message), request).then(
          () => 'ok',
          (e: unknown) => (e as { code?: string }).code,
        ),
      ),
    );
    expect(outcomes.filter((o) => o === 'ok')).to.have.length(1);
    expect(outcomes.filter((o) => o === 'AuthFailure')).to.have.length(9);
  });

  it("applies the primary's start: a request signed before it is refused by a worker started later", async () => {
    const primary = new MemoryReplayCache({ now: () => Date.now() + 10_000 });
    const worker = withSharedReplays(users, new ReplayCacheClient(primary.since, channelTo(primary)));
    const error = await refusal(worker(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request));
    expect(error).to.deep.include({
      code: 'AuthFailure',
      message: 'The request was signed before this service started; sign it again.',
    });
  });

  it('asks the primary nothing about a request that does not verify', async () => {
    const primary = new MemoryReplayCache();
    const channel = channelTo(primary);
    const worker = withSharedReplays(users, new ReplayCacheClient(primary.since, channel));
    const tampered = signEnvelope(CREATE_VOLUME, fixtures().alice).replace('<t:size>1<', '<t:size>9<');
    expect((await refusal(worker(parseEnvelope(tampered), request))).code).to.equal('AuthFailure');
    expect(channel.questions).to.equal(0);
    expect(primary.size).to.equal(0);
  });

  it('asks the questions of one event-loop turn in one message, answered in order', async () => {
    const primary = new MemoryReplayCache();
    const channel = channelTo(primary);
    const client = new ReplayCacheClient(primary.since, channel);
    const later = Date.now() + 60_000;
    const answers = await Promise.all(['a', 'b', 'a', 'c', 'b'].map((key) => client.record(key, later, 'alice')));
    expect(answers).to.deep.equal(['new', 'new', 'replayed', 'new', 'replayed']);
    expect(channel.questions).to.equal(1);
    expect(await client.record('c', later, 'alice')).to.equal('replayed');
    expect(channel.questions).to.equal(2);
  });

  it('answers only well-formed batches of questions', () => {
    const primary = new MemoryReplayCache();
    const replies: unknown[] = [];
    const ask = (m: unknown): boolean => answerReplayQuestions(primary, m, (a) => replies.push(a));
    expect(ask({ vbs: 'replay?', ids: [1, 2], keys: ['k'], expiresAt: [1, 2], owners: ['a', 'a'] })).to.equal(false);
    expect(ask({ vbs: 'replay?', ids: [1], keys: [7], expiresAt: [1], owners: ['a'] })).to.equal(false);
    expect(ask({ vbs: 'replay?', ids: [1], keys: ['k'], expiresAt: [1] }), 'no owners').to.equal(false);
    expect(ask({ vbs: 'ready', origin: 'x' })).to.equal(false);
    expect(ask(null)).to.equal(false);
    expect(replies).to.deep.equal([]);
    expect(primary.size).to.equal(0);
    expect(ask({ vbs: 'replay?', ids: [4], keys: ['k'], expiresAt: [Date.now() + 1000], owners: ['a'] })).to.equal(
      true,
    );
    expect(replies).to.deep.equal([{ vbs: 'replay!', ids: [4], answers: ['new'] }]);
  });

  describe('fails closed', () => {
    const shared = (answer: ReplayAnswer): SharedReplayCache => ({ since: 0, record: async () => answer });
    const principal = { userId: 'alice', admin: false };

    it('when an authenticator accepts without asking the replay cache (InternalError, not accepted)', async () => {
      const worker = withSharedReplays(() => async () => principal, shared('new'));
      const error = await refusal(worker(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request));
      expect(error.code).to.equal(undefined);
      expect(error.message).to.match(/without asking the replay cache/);
    });

    it("when the replay cache is asked after the verifier's synchronous run", async () => {
      const late =
        (cache: ReplayCache): Authenticator =>
        async () => {
          await new Promise((r) => setImmediate(r));
          if (cache.record('key', Date.now() + 1000, 'alice') !== 'new') throw new Error('seen');
          return principal;
        };
      const error = await refusal(
        withSharedReplays(late, shared('new'))(parseEnvelope(signEnvelope(CREATE_VOLUME, fixtures().alice)), request),
      );
      expect(error.message).to.match(/outside its synchronous run/);
    });

    it('when the primary does not answer in time, or the channel cannot send (Unavailable)', async () => {
      const silent: Channel = { send: () => true, on: () => undefined };
      const unanswered = await refusal(
        new ReplayCacheClient(Date.now(), silent, 50).record('key', Date.now() + 1000, 'alice'),
      );
      expect(unanswered.code).to.equal('Unavailable');
      const broken: Channel = {
        send: (_m, callback) => {
          setImmediate(() => callback(new Error('channel closed')));
          return false;
        },
        on: () => undefined,
      };
      expect(
        (await refusal(new ReplayCacheClient(Date.now(), broken).record('key', Date.now() + 1000, 'alice'))).code,
      ).to.equal('Unavailable');
      expect(
        (await refusal(new ReplayCacheClient(Date.now(), { on: () => undefined }).record('key', 1, 'alice'))).code,
      ).to.equal('Unavailable');
    });
  });
});
