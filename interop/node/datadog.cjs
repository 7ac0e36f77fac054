// dd-trace for Node: sends the plan's trace to weft's Datadog agent port (DD_TRACE_AGENT_URL, made from
// WEFT_DATADOG when not set), in the agent protocol version given as the first argument (0.4, the default, or
// 0.5); with a second argument 64 the trace ID has 64 bits (no _dd.p.tid). Everything else the tracer could contact or start is turned off before it loads: remote configuration,
// telemetry, runtime metrics, profiling, AppSec, crash tracking, data streams, stats.
// Datadog meta is text and metrics are float64, so ints arrive as floats; dd-trace sends span events and links
// in its own fields; an error is error=1 with error.message.
'use strict'

const settings = {
  DD_REMOTE_CONFIGURATION_ENABLED: 'false',
  DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
  DD_TELEMETRY_LOG_COLLECTION_ENABLED: 'false',
  DD_RUNTIME_METRICS_ENABLED: 'false',
  DD_PROFILING_ENABLED: 'false',
  DD_APPSEC_ENABLED: 'false',
  DD_IAST_ENABLED: 'false',
  DD_CRASHTRACKING_ENABLED: 'false',
  DD_DATA_STREAMS_ENABLED: 'false',
  DD_DYNAMIC_INSTRUMENTATION_ENABLED: 'false',
  DD_TRACE_STATS_COMPUTATION_ENABLED: 'false',
  DD_TRACE_STARTUP_LOGS: 'false',
  DD_LLMOBS_ENABLED: 'false',
  DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED: process.argv[3] === '64' ? 'false' : 'true',
  // dd-trace hands errors to the logger below only when its logging is on.
  DD_TRACE_DEBUG: 'true',
  DD_TRACE_LOG_LEVEL: 'error',
}
for (const [k, v] of Object.entries(settings)) process.env[k] = v
if (!process.env.DD_TRACE_AGENT_URL && process.env.WEFT_DATADOG) {
  process.env.DD_TRACE_AGENT_URL = `http://${process.env.WEFT_DATADOG}`
}

const protocol = process.argv[2] || '0.4'
const service = (protocol === '0.4' ? 'interop-dd-trace-js' : `interop-dd-trace-js-v${protocol}`) +
  (process.argv[3] === '64' ? '-64bit' : '')

// The tracer only logs a failed send; keep its errors so the program can exit non-zero.
const errors = []
const tracer = require('dd-trace').init({
  service,
  protocolVersion: protocol,
  env: 'interop',
  version: '1.2.3',
  plugins: false,
  logger: {
    error: (err) => errors.push(err),
    warn: () => {},
    info: () => {},
    debug: () => {},
  },
})

async function main () {
  const { names, times, at, rootAttrs, espressoAttrs, milkAttrs, groundAttrs, errorMessage, addr, report, fail } = await import('./plan.mjs')
  addr('WEFT_DATADOG')

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

  const exporter = tracer._tracer && tracer._tracer._exporter
  if (!exporter || typeof exporter.flush !== 'function') fail('dd-trace', 'no exporter to flush (dd-trace internals changed)')
  await new Promise((resolve) => exporter.flush(resolve))
  if (errors.length > 0) fail('dd-trace: send', errors[0])
  // toTraceId(true) pads a 64-bit ID to 32 digits; Jaeger's and Zipkin's APIs spell it in 16.
  const id = root.context().toTraceId(true)
  report(id.startsWith('0'.repeat(16)) ? id.slice(16) : id, service)
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
