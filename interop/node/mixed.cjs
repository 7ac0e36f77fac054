// A mixed fleet: one trace whose root comes from OpenTelemetry JS (OTLP/HTTP protobuf) and whose three children
// come from zipkin-js (Zipkin v2, parent passed as B3 values), dd-trace (Datadog v0.4, parent extracted from a
// W3C traceparent header) and jaeger-client (Jaeger thrift, parent extracted from an uber-trace-id header), each
// as its own service. weft must put the four spans, received by four receivers, into one trace.
//
//   commande mixte 🌍          0 – 120 ms  interop-mixed-otel     server
//   ├── zipkin : moudre ⚙     10 –  30 ms  interop-mixed-zipkin
//   ├── datadog : infuser ☕   30 –  60 ms  interop-mixed-datadog
//   └── jaeger : servir 🍽     60 –  90 ms  interop-mixed-jaeger
'use strict'

const { tracer: ddTracer, flush: ddFlush } = require('./ddtrace.cjs').init({ service: 'interop-mixed-datadog' })
const { SpanKind, ROOT_CONTEXT } = require('@opentelemetry/api')
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { resourceFromAttributes } = require('@opentelemetry/resources')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto')
const zipkin = require('zipkin')
const { HttpLogger } = require('zipkin-transport-http')
const { initTracer } = require('jaeger-client')
const opentracing = require('opentracing')

async function main () {
  const { at, addr, report, fail } = await import('./plan.mjs')

  // OpenTelemetry JS: the root.
  const otelFailures = []
  const exporter = new OTLPTraceExporter({ url: `http://${addr('WEFT_OTLP_HTTP')}/v1/traces` })
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'interop-mixed-otel' }),
    spanProcessors: [new BatchSpanProcessor({
      export: (spans, done) => exporter.export(spans, (r) => {
        if (r.code !== 0) otelFailures.push(r.error || new Error(`export result code ${r.code}`))
        done(r)
      }),
      shutdown: () => exporter.shutdown(),
    })],
  })
  const root = provider.getTracer('weft-interop').startSpan('commande mixte 🌍', { kind: SpanKind.SERVER, startTime: at(0) }, ROOT_CONTEXT)
  const { traceId, spanId } = root.spanContext()
  root.end(at(120))

  // zipkin-js: a local span whose parent is the root, given as B3 trace and span IDs.
  const posts = []
  const logger = new HttpLogger({
    endpoint: `http://${addr('WEFT_ZIPKIN')}/api/v2/spans`,
    jsonEncoder: zipkin.jsonEncoder.JSON_V2,
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
  const zTracer = new zipkin.Tracer({
    ctxImpl: new zipkin.ExplicitContext(),
    recorder: new zipkin.BatchRecorder({ logger }),
    localServiceName: 'interop-mixed-zipkin',
    traceId128Bit: true,
  })
  const b3Parent = new zipkin.TraceId({ traceId, spanId, sampled: new zipkin.option.Some(true) })
  zTracer.setId(zTracer.createChildId(b3Parent))
  zTracer.recordServiceName('interop-mixed-zipkin')
  zTracer.recordAnnotation(new zipkin.Annotation.LocalOperationStart('zipkin : moudre ⚙'), at(10) * 1000)
  zTracer.recordAnnotation(new zipkin.Annotation.LocalOperationStop(), at(30) * 1000)

  // dd-trace: the parent comes from a W3C traceparent header.
  const ddParent = ddTracer.extract('http_headers', { traceparent: `00-${traceId}-${spanId}-01` })
  if (!ddParent) fail('dd-trace', 'extracted no context from the traceparent header')
  ddTracer.startSpan('datadog : infuser ☕', { childOf: ddParent, startTime: at(30) }).finish(at(60))

  // jaeger-client: the parent comes from an uber-trace-id header.
  const jErrors = []
  const jTracer = initTracer({
    serviceName: 'interop-mixed-jaeger',
    sampler: { type: 'const', param: 1 },
    reporter: { collectorEndpoint: `http://${addr('WEFT_JAEGER')}/api/traces`, flushIntervalMs: 60000 },
  }, { logger: { info: () => {}, error: (m) => jErrors.push(m) }, traceId128bit: true })
  const jParent = jTracer.extract(opentracing.FORMAT_HTTP_HEADERS, { 'uber-trace-id': `${traceId}:${spanId}:0:1` })
  jTracer.startSpan('jaeger : servir 🍽', { childOf: jParent, startTime: at(60) }).finish(at(90))

  try {
    await provider.shutdown()
    if (otelFailures.length > 0) throw otelFailures[0]
    logger.processQueue(logger.fetchImplementation)
    if (posts.length === 0) throw new Error('zipkin-js sent nothing')
    await Promise.all(posts)
    await ddFlush()
    await new Promise((resolve) => jTracer.close(resolve))
    if (jErrors.length > 0) throw new Error(jErrors[0])
  } catch (err) {
    fail('mixed fleet: send', err)
  }
  report(traceId, 'interop-mixed-otel')
  process.exit(0)
}

main().catch((err) => { console.error(err); process.exit(1) })
