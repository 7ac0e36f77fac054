// zipkin-js: sends the plan's trace as Zipkin v2 JSON through zipkin-transport-http's HttpLogger to
// http://WEFT_ZIPKIN/api/v2/spans, or as v1 JSON to /api/v1/spans when the first argument is v1. With a second
// argument 64 the trace ID has 64 bits (the client's default) instead of 128. Zipkin tags are strings, so typed values arrive as their text; events are
// annotations (a timestamp and a value, no attributes); the error is the tag "error" holding the message.
'use strict'

const { Tracer, BatchRecorder, ExplicitContext, Annotation, jsonEncoder } = require('zipkin')
const { HttpLogger } = require('zipkin-transport-http')

async function main () {
  const { names, times, at, rootAttrs, espressoAttrs, milkAttrs, errorMessage, addr, report, fail } = await import('./plan.mjs')
  const us = (offsetMs) => at(offsetMs) * 1000
  const version = process.argv[2] || 'v2'
  if (version !== 'v1' && version !== 'v2') fail('usage', 'node zipkin.cjs [v1|v2] [64]')
  const bits64 = process.argv[3] === '64'
  const service = (version === 'v2' ? 'interop-zipkin-js' : 'interop-zipkin-js-v1') + (bits64 ? '-64bit' : '')

  // The logger only logs a failed POST; remember the outcome of each one instead.
  const posts = []
  const logger = new HttpLogger({
    endpoint: `http://${addr('WEFT_ZIPKIN')}/api/${version}/spans`,
    jsonEncoder: version === 'v2' ? jsonEncoder.JSON_V2 : jsonEncoder.JSON_V1,
    httpInterval: 60000,
    fetchImplementation: (url, opts) => {
      const p = fetch(url, opts).then(async (res) => {
        if (res.status !== 202 && res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`)
        return res
      })
      posts.push(p)
      return p
    },
    log: { error: () => {} },
  })
  const tracer = new Tracer({
    ctxImpl: new ExplicitContext(),
    recorder: new BatchRecorder({ logger }),
    localServiceName: service,
    traceId128Bit: !bits64,
  })

  // Every span names its service; tags are strings in Zipkin (zipkin-js calls toString on each value).
  const tags = (attrs) => {
    for (const [k, v] of Object.entries(attrs)) {
      if (!Array.isArray(v)) tracer.recordBinary(k, v)
    }
  }

  const rootId = tracer.createRootId()
  tracer.setId(rootId)
  tracer.recordServiceName(service)
  tracer.recordRpc(names.root)
  tracer.recordAnnotation(new Annotation.ServerRecv(), us(times.root[0]))
  tags(rootAttrs)
  tracer.recordAnnotation(new Annotation.Message(names.received), us(times.received))

  const espressoId = tracer.createChildId(rootId)
  tracer.setId(espressoId)
  tracer.recordServiceName(service)
  tracer.recordAnnotation(new Annotation.LocalOperationStart(names.espresso), us(times.espresso[0]))
  tags(espressoAttrs)
  tracer.recordAnnotation(new Annotation.Message(names.ground), us(times.ground))

  const milkId = tracer.createChildId(espressoId)
  tracer.setId(milkId)
  tracer.recordServiceName(service)
  tracer.recordAnnotation(new Annotation.LocalOperationStart(names.milk), us(times.milk[0]))
  tags(milkAttrs)
  tracer.recordAnnotation(new Annotation.LocalOperationStop(), us(times.milk[1]))

  tracer.setId(espressoId)
  tracer.recordAnnotation(new Annotation.LocalOperationStop(), us(times.espresso[1]))

  const paymentId = tracer.createChildId(rootId)
  tracer.setId(paymentId)
  tracer.recordServiceName(service)
  tracer.recordRpc(names.payment)
  tracer.recordAnnotation(new Annotation.ClientSend(), us(times.payment[0]))
  tracer.recordAnnotation(new Annotation.Message(names.attempt), us(times.attempt))
  tracer.recordBinary('error', errorMessage)
  tracer.recordAnnotation(new Annotation.ClientRecv(), us(times.payment[1]))

  tracer.setId(rootId)
  tracer.recordAnnotation(new Annotation.ServerSend(), us(times.root[1]))

  logger.processQueue(logger.fetchImplementation)
  try {
    if (posts.length === 0) throw new Error('zipkin-js sent nothing')
    await Promise.all(posts)
  } catch (err) {
    fail(`${service}: send`, err)
  }
  report(rootId.traceId, service)
}

main().catch((err) => { console.error(err); process.exit(1) })
