// A worker built on the official Node SDK (npm `iii-sdk`, pinned in
// package.json beside this file), for interop tests of our Rust SDK.
//
//     npm ci                       (once, in this directory)
//     III_URL=ws://127.0.0.1:49134 node peer.mjs PREFIX
//
// A Rust test starts this script as a child process with a fresh PREFIX,
// waits for the line "ready" on its stdout, then calls the functions below
// through the engine and checks their answers. Closing the child's stdin
// asks it to disconnect and exit with status 0. Everything the SDK logs is
// sent to stderr, so stdout carries nothing but "ready".
//
// Functions, all under PREFIX:: (byte i of every stream is i % 251, as on
// the Rust side):
//
//   ping    anything                  -> "pong"
//   echo    any JSON value            -> the value exactly as this handler
//                                        received it (the engine adds
//                                        `_caller_worker_id` to objects, and
//                                        numbers are JavaScript doubles, so
//                                        integers beyond 2^53 come back
//                                        rounded)
//   fail    {code, message}           -> an error. This SDK reports every
//                                        thrown error with code
//                                        "invocation_failed" and the thrown
//                                        message; `code` cannot be chosen.
//   call    {target, payload, timeout_ms?}
//                                     -> {ok: result} (null for no value), or
//                                        {error: {code, message}} taken from
//                                        the SDK's rejection (its message
//                                        reads "<code>: <message>")
//   sink    {input: reader ref}       -> {len, mismatch, messages}: reads
//                                        to the end; mismatch is the first
//                                        index off the pattern, or null;
//                                        messages are the text frames seen
//   source  {output: writer ref, n, hello?}
//                                     -> {written: n}: sends `hello` as a
//                                        text frame if given, then n bytes
//                                        of the pattern, then closes
//
// "ready" is printed only after this worker has reached its own ping
// through the engine, so its functions are served by then.

import { finished } from 'node:stream/promises';
import { registerWorker } from 'iii-sdk';
import { ChannelReader, ChannelWriter } from 'iii-sdk/channel';

const CHUNK = 64 * 1024;

// The SDK logs with console.debug, which goes to stdout; keep stdout for
// "ready". A test that stops reading stdout must not crash us either.
console.debug = (...args) => console.error(...args);
process.stdout.on('error', () => {});

function pattern(offset, length) {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (offset + i) % 251;
  return bytes;
}

function firstMismatch(offset, chunk) {
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] !== (offset + i) % 251) return offset + i;
  }
  return null;
}

async function sink(data) {
  const reader = data?.input;
  if (!(reader instanceof ChannelReader)) {
    throw new TypeError(`input is not a channel reader: ${JSON.stringify(data?.input)}`);
  }
  // A socket error after the end must not become an uncaught 'error' event.
  reader.stream.on('error', () => {});
  const messages = [];
  reader.onMessage((text) => messages.push(text));
  let len = 0;
  let mismatch = null;
  for await (const chunk of reader.stream) {
    if (mismatch === null) mismatch = firstMismatch(len, chunk);
    len += chunk.length;
  }
  return { len, mismatch, messages };
}

// Resolves when `stream` wants more data; rejects if it closes first (the
// channel's socket went away), so a writer never waits forever.
function drained(stream) {
  return new Promise((resolve, reject) => {
    const settle = (err) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error('the channel closed before all bytes were written'));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', settle);
  });
}

async function source(data) {
  const writer = data?.output;
  if (!(writer instanceof ChannelWriter)) {
    throw new TypeError(`output is not a channel writer: ${JSON.stringify(data?.output)}`);
  }
  writer.stream.on('error', () => {}); // as in sink; drained/finished still see errors
  const n = Number(data.n);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad n: ${data.n}`);
  if (typeof data.hello === 'string') writer.sendMessage(data.hello);
  let written = 0;
  while (written < n) {
    const piece = pattern(written, Math.min(CHUNK, n - written));
    written += piece.length;
    if (!writer.stream.write(piece)) await drained(writer.stream);
  }
  writer.stream.end();
  await finished(writer.stream);
  return { written };
}

function main() {
  const prefix = process.argv[2];
  if (!prefix) {
    console.error('usage: node peer.mjs PREFIX (III_URL names the engine)');
    process.exit(2);
  }
  const url = process.env.III_URL ?? 'ws://127.0.0.1:49134';
  const iii = registerWorker(url, {
    workerName: `${prefix}-node`,
    otel: { enabled: false },
    enableMetricsReporting: false,
  });

  const call = async (data) => {
    // Without a payload the SDK would send a frame with no `data`, which the
    // engine drops: the call would only end in a TIMEOUT.
    const request = { function_id: data.target, payload: data.payload ?? null };
    if (typeof data.timeout_ms === 'number') request.timeoutMs = data.timeout_ms;
    try {
      const result = await iii.trigger(request);
      return { ok: result === undefined ? null : result };
    } catch (err) {
      return { error: { code: err?.code ?? null, message: err?.message ?? String(err) } };
    }
  };

  iii.registerFunction(`${prefix}::ping`, async () => 'pong');
  iii.registerFunction(`${prefix}::echo`, async (data) => data);
  iii.registerFunction(`${prefix}::fail`, async (data) => {
    const err = new Error(String(data?.message ?? 'failed'));
    err.code = data?.code;
    throw err;
  });
  iii.registerFunction(`${prefix}::call`, call);
  iii.registerFunction(`${prefix}::sink`, sink);
  iii.registerFunction(`${prefix}::source`, source);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await iii.shutdown();
    } finally {
      process.exit(0);
    }
  };
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.resume();

  // Registrations get no acknowledgement: poll our own ping through the
  // engine until it answers.
  const deadline = Date.now() + 60_000;
  const probe = async () => {
    while (!stopping) {
      try {
        if ((await iii.trigger({ function_id: `${prefix}::ping`, payload: {}, timeoutMs: 2000 })) === 'pong') {
          process.stdout.write('ready\n');
          return;
        }
      } catch (err) {
        if (Date.now() > deadline) {
          console.error(`not served within 60 s: ${err?.message ?? err}`);
          process.exit(1);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  probe();
}

main();
