// Shared by the Node peer's client and server: options, the Fibonacci wire format, the echo body.
'use strict'

// Bounds the work one request can ask for, as the pika peer does (fib(10000) has 2090 digits).
const MAX_N = 10000n

function fibText(n) {
  let a = 0n
  let b = 1n
  for (let i = 0n; i < n; i++) [a, b] = [b, a + b]
  return a.toString()
}

// Reply body and content type for a Fibonacci request body, errors worded as our server's.
function answer(body) {
  const text = Buffer.isBuffer(body) ? body.toString('latin1') : String(body)
  if (!/^\s*[0-9]+\s*$/.test(text)) return [`{"response": null, "error": "request is not a number"}`, 'application/json']
  const n = BigInt(text.trim())
  if (n > MAX_N) return [`{"response": null, "error": "n out of range (0..${MAX_N})"}`, 'application/json']
  return [fibText(n), undefined]
}

// The message-size runs' request body: size bytes 'a'..'z' repeated, as every peer sends it.
function echoBody(size) {
  const b = Buffer.alloc(size)
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26)
  return b
}

// --name value / --flag options into an object; unknown options are an error.
function parseArgs(argv, spec, usage) {
  const out = { ...spec.defaults }
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '')
    if (spec.flags.includes(name)) out[name] = true
    else if (name in spec.defaults && i + 1 < argv.length) out[name] = argv[++i]
    else {
      process.stderr.write(usage)
      process.exit(2)
    }
  }
  return out
}

function die(msg) {
  process.stderr.write(` [!] Error: ${msg}\n`)
  process.exit(1)
}

module.exports = { answer, fibText, echoBody, parseArgs, die }
