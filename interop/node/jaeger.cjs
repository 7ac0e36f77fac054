// jaeger-client for Node: sends the plan's trace with the client's HTTP sender (thrift binary) to
// http://WEFT_JAEGER/api/traces. jaeger-client types every number as a double and has no arrays (the plan's
// arrays are sent as their JSON text); span events are OpenTracing logs; the error is the tag error=true with
// an "error" log carrying the message; the link is a FOLLOWS_FROM reference. With the argument 64 the trace ID
// has 64 bits (the client's default) instead of 128.
'use strict'

const { initTracer } = require('jaeger-client')
const opentracing = require('opentracing')

async function main () {
  const { names, times, at, rootAttrs, espressoAttrs, milkAttrs, groundAttrs, errorMessage, addr, report, fail } = await import('./plan.mjs')
  const bits64 = process.argv[2] === '64'
  const service = bits64 ? 'interop-jaeger-client-js-64bit' : 'interop-jaeger-client-js'

  // The client only logs a failed send; keep its errors so the program can exit non-zero.
  const errors = []
  const logger = { info: () => {}, error: (msg) => errors.push(msg) }
  const tracer = initTracer({
    serviceName: service,
    sampler: { type: 'const', param: 1 },
    reporter: { collectorEndpoint: `http://${addr('WEFT_JAEGER')}/api/traces`, flushIntervalMs: 60000 },
  }, { logger, traceId128bit: !bits64, tags: { 'déploiement': 'café-nord' } })

  const attrs = (a) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : v]))

  const root = tracer.startSpan(names.root, { startTime: at(times.root[0]), tags: { [opentracing.Tags.SPAN_KIND]: 'server', ...attrs(rootAttrs) } })
  root.log({ event: names.received, 'canal': 'comptoir' }, at(times.received))

  const espresso = tracer.startSpan(names.espresso, { childOf: root.context(), startTime: at(times.espresso[0]), tags: espressoAttrs })
  espresso.log({ event: names.ground, ...groundAttrs }, at(times.ground))
  const milk = tracer.startSpan(names.milk, { childOf: espresso.context(), startTime: at(times.milk[0]), tags: milkAttrs })
  milk.finish(at(times.milk[1]))
  espresso.finish(at(times.espresso[1]))

  const payment = tracer.startSpan(names.payment, {
    references: [opentracing.childOf(root.context()), opentracing.followsFrom(espresso.context())],
    startTime: at(times.payment[0]),
    tags: { [opentracing.Tags.SPAN_KIND]: 'client' },
  })
  payment.log({ event: names.attempt, 'montant': 7.25 }, at(times.attempt))
  payment.setTag(opentracing.Tags.ERROR, true)
  payment.log({ event: 'error', message: errorMessage }, at(times.payment[1]))
  payment.finish(at(times.payment[1]))
  root.finish(at(times.root[1]))

  await new Promise((resolve) => tracer.close(resolve))
  if (errors.length > 0) fail(`${service}: send`, errors[0])
  // jaeger-client spells IDs without leading zeros; the query APIs answer with all 16 or 32 digits.
  report(root.context().toTraceId().padStart(bits64 ? 16 : 32, '0'), service)
}

main().catch((err) => { console.error(err); process.exit(1) })
