#!/usr/bin/env node
// The Node peer's server (issue 19): the rabbitmq-client package's consumer with its reply()
// helper, as its README serves RPC. Consumes --queue with basic.qos --prefetch, computes fib(n)
// (--echo: returns the body as it came), replies to reply_to with the request's correlation_id;
// the consumer acks when the handler returns. noDelay: the package's option for TCP_NODELAY, off by
// default (Nagle then holds each small reply for the peer's delayed ACK: ~40 ms per sequential call).
// Exits 0 on SIGINT/SIGTERM.
//
//   node_rpc_server.js --url URL [--queue rpc_queue] [--prefetch 1] [--echo]
'use strict'
const { Connection } = require('rabbitmq-client')
const { answer, parseArgs, die } = require('./rpc_common')

const usage = 'usage: node_rpc_server.js --url URL [--queue Q] [--prefetch P] [--echo]\n'
const args = parseArgs(process.argv.slice(2), { defaults: { url: '', queue: 'rpc_queue', prefetch: '1' }, flags: ['echo'] }, usage)
if (!args.url) die('--url is required')
const prefetch = Number(args.prefetch)

const rabbit = new Connection({ url: args.url, noDelay: true, retryLow: 100, retryHigh: 1000 })
rabbit.on('error', (err) => die(`connection: ${err.message}`))

const sub = rabbit.createConsumer({
  queue: args.queue,
  // Declared like the tutorial's server (not durable, not exclusive) so every server agrees.
  queueOptions: { durable: false, exclusive: false, autoDelete: false },
  qos: { prefetchCount: prefetch },
}, async (msg, reply) => {
  if (!msg.replyTo) return
  if (args.echo) {
    await reply(Buffer.isBuffer(msg.body) ? msg.body : Buffer.from(String(msg.body)))
    return
  }
  const [text, contentType] = answer(msg.body)
  await reply(Buffer.from(text), contentType ? { contentType } : undefined)
})
sub.on('error', (err) => die(`consumer: ${err.message}`))
sub.once('ready', () => process.stderr.write(` [x] Awaiting RPC requests on '${args.queue}' (prefetch ${prefetch})\n`))

async function stop() {
  await sub.close()
  await rabbit.close()
  process.stderr.write(' [x] Stopped\n')
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
