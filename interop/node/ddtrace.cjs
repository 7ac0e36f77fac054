// Starts dd-trace for Node pointed at weft's Datadog agent port (DD_TRACE_AGENT_URL, made from WEFT_DATADOG when
// not set), with everything else the tracer could contact or start turned off before it loads: remote
// configuration, telemetry, runtime metrics, profiling, AppSec, IAST, crash tracking, data streams, dynamic
// instrumentation, LLM observability, client-side stats and every integration.
'use strict'

exports.init = function init ({ service, protocolVersion = '0.4', bits128 = true }) {
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
    DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED: String(bits128),
    // dd-trace hands errors to the logger below only when its logging is on.
    DD_TRACE_DEBUG: 'true',
    DD_TRACE_LOG_LEVEL: 'error',
  }
  for (const [k, v] of Object.entries(settings)) process.env[k] = v
  if (!process.env.DD_TRACE_AGENT_URL) {
    if (!process.env.WEFT_DATADOG) {
      console.error('WEFT_DATADOG is not set: the test passes weft\'s listener addresses in WEFT_* variables')
      process.exit(2)
    }
    process.env.DD_TRACE_AGENT_URL = `http://${process.env.WEFT_DATADOG}`
  }

  // The tracer only logs a failed send; keep its errors so the program can exit non-zero.
  const errors = []
  const tracer = require('dd-trace').init({
    service,
    protocolVersion,
    env: 'interop',
    version: '1.2.3',
    plugins: false,
    logger: { error: (err) => errors.push(err), warn: () => {}, info: () => {}, debug: () => {} },
  })

  // flush sends what has finished and resolves once the agent (weft) has answered, rejecting on a logged error.
  // dd-trace has no public flush for this; its exporter's is the one it runs before the process exits.
  const flush = async () => {
    const exporter = tracer._tracer && tracer._tracer._exporter
    if (!exporter || typeof exporter.flush !== 'function') throw new Error('dd-trace has no exporter to flush (its internals changed)')
    await new Promise((resolve) => exporter.flush(resolve))
    if (errors.length > 0) throw errors[0]
  }
  return { tracer, errors, flush }
}
