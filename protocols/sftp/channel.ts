/**
 * Moves bytes between an SSH channel (any Duplex) and an SftpSession: frames packets,
 * answers them in arrival order (draft-02 section 6.1 lets a server reorder, but OpenSSH
 * clients pipeline up to 64 requests on one handle and expect them applied in order; only runs
 * of READs, which change nothing, are worked on together), applies backpressure both ways, and
 * releases every handle when the channel ends.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { SSH_FXP } from './wire/constants.js';
import { FramingError, PacketFramer } from './wire/framer.js';
import { ProtocolError, type SftpSession } from './session.js';

/** Incoming bytes queued before we stop reading (the SSH window then stops the client). */
const QUEUE_HIGH_BYTES = 4 * 1024 * 1024;
const QUEUE_LOW_BYTES = 1 * 1024 * 1024;
/** Consecutive SSH_FXP_READ requests answered concurrently (their replies still go in order). */
const READ_WINDOW = 16;

/**
 * Serves one 'sftp' subsystem channel until it closes. Resolves once the session's handles are
 * released. Malformed framing or a protocol violation closes this channel only.
 */
export function serveSftpChannel(channel: Duplex, session: SftpSession, log?: Logger): Promise<void> {
  const framer = new PacketFramer();
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let running = false;
  let finished = false;
  let paused = false;
  let eof = false;
  let wakeDrain: (() => void) | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));

  const finish = (why: string): void => {
    if (finished) return;
    finished = true;
    queue.length = 0;
    wakeDrain?.();
    log?.debug({ clientId: session.ctx.clientId, why }, 'sftp: channel finished');
    void session.close().finally(resolveDone);
    try {
      channel.end();
    } catch { /* already gone */ }
  };

  // After the client's EOF, answer what is queued, then end our side too.
  const finishIfIdle = (): void => {
    if (eof && !running && !queue.length) finish('client eof');
  };

  const fail = (err: unknown): void => {
    log?.warn({ clientId: session.ctx.clientId, err: (err as Error).message }, 'sftp: closing channel on protocol error');
    finish('protocol error');
    try {
      channel.destroy();
    } catch { /* already gone */ }
  };

  const take = (): Buffer => {
    const pkt = queue.shift()!;
    queuedBytes -= pkt.length;
    if (paused && queuedBytes <= QUEUE_LOW_BYTES) {
      paused = false;
      channel.resume();
    }
    return pkt;
  };

  const pump = async (): Promise<void> => {
    if (running) return;
    running = true;
    // Replies in arrival order; consecutive READs run together (up to READ_WINDOW), anything
    // else runs alone, after everything before it and before anything after it.
    const inflight: Array<{ read: boolean; reply: Promise<Buffer | ProtocolError> }> = [];
    try {
      while (!finished) {
        while (queue.length && inflight.length < READ_WINDOW) {
          const read = queue[0]![0] === SSH_FXP.READ;
          if (inflight.length && !(read && inflight.every((e) => e.read))) break;
          const reply = session.handlePacket(take()).catch((err: unknown) => {
            if (err instanceof ProtocolError) return err;
            throw err;
          });
          inflight.push({ read, reply });
        }
        const next = inflight.shift();
        if (!next) break;
        const reply = await next.reply;
        if (reply instanceof ProtocolError) return fail(reply);
        if (finished) break;
        if (!channel.write(reply)) {
          await new Promise<void>((resolve) => {
            wakeDrain = resolve;
            channel.once('drain', resolve);
          });
          wakeDrain = undefined;
        }
      }
    } catch (err) {
      log?.error({ err }, 'sftp: unexpected error in channel loop');
      fail(err);
    } finally {
      // Replies no longer wanted (channel gone): let the handlers finish, quietly.
      for (const e of inflight) void e.reply.catch(() => undefined);
      running = false;
      finishIfIdle();
    }
  };

  channel.on('data', (chunk: Buffer) => {
    if (finished) return;
    let pkts: Buffer[];
    try {
      pkts = framer.push(chunk);
    } catch (err) {
      if (err instanceof FramingError) return fail(err);
      throw err;
    }
    for (const p of pkts) {
      queue.push(p);
      queuedBytes += p.length;
    }
    if (!paused && queuedBytes + framer.pending > QUEUE_HIGH_BYTES) {
      paused = true;
      channel.pause();
    }
    void pump();
  });
  // The client sent EOF: answer what is queued, then end our side too. Not ending here is the
  // known ssh2 pitfall that leaves OpenSSH's sftp hanging on exit.
  channel.on('end', () => {
    eof = true;
    finishIfIdle();
  });
  channel.on('close', () => finish('channel closed'));
  channel.on('error', (err: Error) => {
    log?.debug({ err: err.message }, 'sftp: channel error');
    finish('channel error');
  });
  return done;
}
