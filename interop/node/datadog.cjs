// dd-trace for Node: sends the plan's trace to weft's Datadog agent port, in the agent protocol version given as
// the first argument (0.4, the default, or 0.5); with a second argument 64 the trace ID has 64 bits (no
// _dd.p.tid). Datadog meta is text and metrics are float64, so ints arrive as floats; dd-trace sends span events
// and links in its own fields; an error is error=1 with error.message.
'use strict'

const ddtrace = require('./ddtrace.cjs')

const protocol = process.argv[2] || '0.4'
const bits64 = process.argv[3] === '64'
const service = (protocol === '0.4' ? 'interop-dd-trace-js' : `interop-dd-trace-js-v${protocol}`) + (bits64 ? '-64bit' : '')
const { tracer, flush } = ddtrace.init({ service, protocolVersion: protocol, bits128: !bits64 })

async function main () {
  const { names, times, at, rootAttrs, espressoAttrs, milkAttrs, groundAttrs, errorMessage, addr, report, fail } = await import('./plan.mjs')

  // dd-trace drops array tags without a word (span_format.js), so the arrays are not sent.
  const scalars = Object.fromEntries(Object.entries(rootAttrs).filter(([, v]) => !Array.isArray(v)))
  const root = tracer.startSpan(names.root, { startTime: at(times.root[0]), tags: { 'span.kind': 'server', ...scalars } })
  root.addEvent(names.received, { 'canal': 'comptoir' }, at(times.received))

  const espresso = tracer.startSpan(names.espresso, { childOf: root, startTime: at(times.espresso[0]), tags: espressoAttrs })
  espresso.addEvent(names.ground, groundAttrs, at(times.ground))
  const milk = tracer.startSpan(names.milk, { childOf: espresso, startTime: at(times.milk[0]), tags: milkAttrs })
  milk.finish(at(times.milk[1]))
  espresso.finish(at(times.espresso[1]))

  const payment = tracer.startSpan(names.payment, { childOf: root, startTime: at(times.payment[0]), tags: { 'span.kind': 'client' } })
  payment.addLink(espresso.context(), { 'lien': 'après le café' })
  payment.addEvent(names.attempt, { 'montant': 7.25 }, at(times.attempt))
  payment.setTag('error', new Error(errorMessage))
  payment.finish(at(times.payment[1]))
  root.finish(at(times.root[1]))

  try {
    await flush()
  } catch (err) {
    fail(`${service}: send`, err)
  }
  // toTraceId(true) pads a 64-bit ID to 32 digits; Jaeger's and Zipkin's APIs spell it in 16.
  const id = root.context().toTraceId(true)
  report(id.startsWith('0'.repeat(16)) ? id.slice(16) : id, service)
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
