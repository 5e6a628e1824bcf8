#!/usr/bin/env node
// The Node peer's client (issue 19): the rabbitmq-client package's RPCClient, its RPC helper,
// which takes replies only through direct reply-to (amq.rabbitmq.reply-to) and puts expiration =
// its timeout on every request, as ours does; requests are sent mandatory (--bare: not), but
// RPCClient does not listen for basic.return, so an unroutable request ends in its timeout.
// --inflight calls kept outstanding (each finished call starts the next), replies checked
// against fib(n) (--size B: a B-byte body echoed back). The first --warmup calls are not measured.
// noDelay: TCP_NODELAY, which the package leaves off by default (see node_rpc_server.js).
// Prints one line, as bench/rpc_bench does:
//   rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
'use strict'
const { Connection } = require('rabbitmq-client')
const { fibText, echoBody, parseArgs, die } = require('./rpc_common')

const usage = 'usage: node_rpc_client.js --url URL [--queue Q] [--requests N] [--warmup W] [--inflight K] [--n N]\n' +
  '                          [--size B] [--direct-reply-to] [--json] [--bare] [--timeout S]\n' +
  'Replies always come through direct reply-to (RPCClient has no other mode).\n'
const args = parseArgs(process.argv.slice(2), {
  defaults: { url: '', queue: 'rpc_queue', requests: '10000', warmup: '1000', inflight: '1', n: '10', size: '-1', timeout: '30' },
  flags: ['direct-reply-to', 'json', 'bare'],
}, usage)
if (!args.url) die('--url is required')
const requests = Number(args.requests)
const warmup = Number(args.warmup)
const inflight = Number(args.inflight)
const size = Number(args.size)
const total = warmup + requests

function percentileUs(sorted, p) {
  if (!sorted.length) return 0
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length - 1e-9)))
  return Number(sorted[rank - 1]) / 1000
}
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system }
const round = (v, d) => Number(v.toFixed(d))

async function main() {
  const rabbit = new Connection({ url: args.url, noDelay: true, retryLow: 100, retryHigh: 1000 })
  rabbit.on('error', (err) => die(`connection: ${err.message}`))
  const rpc = rabbit.createRPCClient({ timeout: Number(args.timeout) * 1000 })
  const body = size >= 0 ? echoBody(size) : Buffer.from(String(args.n))
  const expected = size >= 0 ? body : Buffer.from(fibText(BigInt(args.n)))
  const envelope = { routingKey: args.queue, mandatory: !args.bare }
  const latencies = []
  let next = 0
  let done = 0
  let t0 = process.hrtime.bigint()
  let c0 = cpuUs()
  if (warmup === 0) { t0 = process.hrtime.bigint(); c0 = cpuUs() }

  async function lane() {
    while (next < total) {
      const i = next++
      const start = process.hrtime.bigint()
      const res = await rpc.send(envelope, body)
      const end = process.hrtime.bigint()
      const got = Buffer.isBuffer(res.body) ? res.body : Buffer.from(String(res.body))
      if (!got.equals(expected)) die(`wrong reply (${got.length} bytes): ${JSON.stringify(got.subarray(0, 80).toString('latin1'))}`)
      if (i >= warmup) latencies.push(end - start)
      if (++done === warmup) { t0 = process.hrtime.bigint(); c0 = cpuUs() }
    }
  }
  const lanes = []
  for (let k = 0; k < Math.min(inflight, total); k++) lanes.push(lane())
  await Promise.all(lanes)
  const elapsedNs = Number(process.hrtime.bigint() - t0)
  const cpu = cpuUs() - c0
  latencies.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const m = latencies.length
  const res = {
    client: 'rabbitmq-client',
    'rpc/s': round(m * 1e9 / elapsedNs, 1),
    p50_us: round(percentileUs(latencies, 0.50), 1),
    p99_us: round(percentileUs(latencies, 0.99), 1),
    p999_us: round(percentileUs(latencies, 0.999), 1),
    cpu_us_per_call: round(cpu / m, 2),
    requests: m,
  }
  console.log(args.json ? JSON.stringify(res) : Object.entries(res).slice(1).map(([k, v]) => `${k}=${v}`).join(' '))
  await rpc.close()
  await rabbit.close()
}
main().catch((err) => die(err.message))
