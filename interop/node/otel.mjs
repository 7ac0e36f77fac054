// OpenTelemetry JS: sends the plan's trace through one OTLP exporter, chosen by the first argument:
//   proto  @opentelemetry/exporter-trace-otlp-proto  (OTLP/HTTP protobuf) to WEFT_OTLP_HTTP
//   json   @opentelemetry/exporter-trace-otlp-http   (OTLP/HTTP JSON)     to WEFT_OTLP_HTTP
//   grpc   @opentelemetry/exporter-trace-otlp-grpc   (OTLP/gRPC)          to WEFT_OTLP_GRPC
// A second argument "gzip" makes the exporter compress what it sends.
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { names, times, at, rootAttrs, espressoAttrs, milkAttrs, groundAttrs, errorMessage, addr, report, fail } from './plan.mjs'

const [kind, compression = 'none'] = process.argv.slice(2)
if (compression !== 'none' && compression !== 'gzip') fail('usage', 'node otel.mjs proto|json|grpc [gzip]')
let exporter
switch (kind) {
  case 'proto': {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto')
    exporter = new OTLPTraceExporter({ url: `http://${addr('WEFT_OTLP_HTTP')}/v1/traces`, compression })
    break
  }
  case 'json': {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
    exporter = new OTLPTraceExporter({ url: `http://${addr('WEFT_OTLP_HTTP')}/v1/traces`, compression })
    break
  }
  case 'grpc': {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc')
    // http:// means no TLS
    exporter = new OTLPTraceExporter({ url: `http://${addr('WEFT_OTLP_GRPC')}`, compression })
    break
  }
  default:
    fail('usage', 'node otel.mjs proto|json|grpc [gzip]')
}

// The SDK only logs a failed export; this wrapper remembers it so the program can exit non-zero.
const failures = []
const checked = {
  export (spans, done) {
    exporter.export(spans, (result) => {
      if (result.code !== 0) failures.push(result.error || new Error(`export result code ${result.code}`))
      done(result)
    })
  },
  shutdown () { return exporter.shutdown() },
  forceFlush () { return exporter.forceFlush ? exporter.forceFlush() : Promise.resolve() },
}

const service = compression === 'gzip' ? `interop-otel-${kind}-gzip` : `interop-otel-${kind}`
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service, 'service.version': '1.2.3', 'déploiement': 'café-nord' }),
  spanProcessors: [new BatchSpanProcessor(checked)],
})
const tracer = provider.getTracer('weft-interop', '0.1.0')

const root = tracer.startSpan(names.root, { kind: SpanKind.SERVER, startTime: at(times.root[0]), attributes: rootAttrs }, ROOT_CONTEXT)
root.addEvent(names.received, { 'canal': 'comptoir' }, at(times.received))
const rootCtx = trace.setSpan(ROOT_CONTEXT, root)

const espresso = tracer.startSpan(names.espresso, { startTime: at(times.espresso[0]), attributes: espressoAttrs }, rootCtx)
espresso.addEvent(names.ground, groundAttrs, at(times.ground))
const milk = tracer.startSpan(names.milk, { startTime: at(times.milk[0]), attributes: milkAttrs }, trace.setSpan(ROOT_CONTEXT, espresso))
milk.end(at(times.milk[1]))
espresso.end(at(times.espresso[1]))

const payment = tracer.startSpan(names.payment, {
  kind: SpanKind.CLIENT,
  startTime: at(times.payment[0]),
  links: [{ context: espresso.spanContext(), attributes: { 'lien': 'après le café' } }],
}, rootCtx)
payment.addEvent(names.attempt, { 'montant': 7.25 }, at(times.attempt))
payment.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage })
payment.end(at(times.payment[1]))
root.end(at(times.root[1]))

try {
  await provider.forceFlush()
  await provider.shutdown()
} catch (err) {
  fail(`${service}: flush`, err)
}
if (failures.length > 0) fail(`${service}: export`, failures[0])
report(root.spanContext().traceId, service)
