import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness';
import { sarah, say } from '../technician/support';

/**
 * The HTTP edge against slow senders, over real sockets: a request's headers and body must
 * arrive within HTTP_REQUEST_TIMEOUT_SECONDS (headers within 10 s at most), else the
 * connection is closed, so a caller trickling bytes cannot hold connections for minutes.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ HTTP_REQUEST_TIMEOUT_SECONDS: '2' });
});

afterAll(async () => {
  await h?.stop();
});

/** Opens a socket, sends `head`, then `drip()` every 300 ms; resolves with the seconds until the server closed it (or `limit`) and what it answered. */
function trickle(head: string, drip: () => string, limitSeconds = 15): Promise<{ seconds: number; answer: string }> {
  const url = new URL(h.bot.url);
  const started = Date.now();
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(head));
    const timer = setInterval(() => socket.writable && socket.write(drip()), 300);
    const done = () => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ seconds: (Date.now() - started) / 1000, answer });
    };
    const limit = setTimeout(done, limitSeconds * 1000);
    socket.on('data', (d) => (answer += String(d)));
    socket.on('close', done);
    socket.on('error', () => undefined);
  });
}

describe('slow senders', () => {
  it('a request whose headers trickle in is closed within the timeout, not after a minute', async () => {
    let n = 0;
    const { seconds } = await trickle('POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n', () => `X-Slow-${n++}: a\r\n`);
    expect(seconds).toBeLessThan(6);
  }, 20_000);

  it('a body that trickles in is closed within the timeout, not after five minutes', async () => {
    const { seconds } = await trickle('POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{', () => ' ');
    expect(seconds).toBeLessThan(6);
  }, 20_000);

  it('and the bot keeps serving', async () => {
    const replies = await say(h, sarah(h), 'pending');
    expect(replies.all.length).toBeGreaterThan(0);
  });
});
