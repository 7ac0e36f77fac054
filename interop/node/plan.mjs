// The one trace every client sends, in the words of each client's API, and the small things every program shares.
// interop/interop_test.go holds the same plan on the Go side and checks what weft's query APIs give back.
//
// Times are offsets in milliseconds from a base one second in the past, so that every duration is known exactly
// (no sleeps) and no span starts in the future.
//
//   commande café ☕                       0 – 120 ms  server   typed attributes, event "commande reçue 📥"
//   ├── préparer l'espresso               10 –  50 ms  internal event "grains moulus ⚙" with attributes
//   │   └── chauffer le lait 🥛            20 –  35 ms  internal
//   └── paiement refusé ✗                 60 – 100 ms  client   error "carte refusée : solde insuffisant €",
//                                                              event "tentative n°1", link to préparer l'espresso

export const names = {
  root: 'commande café ☕',
  espresso: "préparer l'espresso",
  milk: 'chauffer le lait 🥛',
  payment: 'paiement refusé ✗',
  received: 'commande reçue 📥',
  ground: 'grains moulus ⚙',
  attempt: 'tentative n°1',
}

export const times = {
  root: [0, 120],
  espresso: [10, 50],
  milk: [20, 35],
  payment: [60, 100],
  received: 1,
  ground: 15,
  attempt: 70,
}

export const errorMessage = 'carte refusée : solde insuffisant €'

// Attributes of the root span. Each client sends those its API can type; the test knows which type survives.
export const rootAttrs = {
  'client.nom': 'Zoë Müller',
  'commande.numéro': 42,
  'commande.total': 7.25,
  'commande.urgente': true,
  'commande.articles': ['café ☕', 'croissant 🥐'],
  'commande.quantités': [2, 1],
}

export const espressoAttrs = { 'machine': 'La Marzocco', 'pression.bar': 9.5 }
export const milkAttrs = { 'lait.température': 65 }
export const groundAttrs = { 'grammes': 18, 'mouture': 'fine' }

// base is the start of the root span in epoch milliseconds, a whole millisecond one second ago.
export const base = Math.floor(Date.now()) - 1000

export function at (offsetMs) { return base + offsetMs }

// addr reads host:port of one of weft's listeners from the environment, failing loudly when it is not set.
export function addr (name) {
  const v = process.env[name]
  if (!v) {
    console.error(`${name} is not set: the test passes weft's listener addresses in WEFT_* variables`)
    process.exit(2)
  }
  return v
}

// report prints what the Go test reads back: the trace ID as the query APIs spell it, the service, and the base.
export function report (traceId, service) {
  reported = true
  console.log(JSON.stringify({ traceId, service, baseMicros: base * 1000 }))
}

// A client whose send fails may never call back; Node then exits 0 with nothing left to run. Such an exit
// without a report is a failure.
let reported = false
process.on('exit', (code) => {
  if (!reported && code === 0) {
    console.error('exited without delivering the trace: the client never reported that it was sent')
    process.exitCode = 1
  }
})

// fail reports a client-side failure and exits non-zero, so the test shows the client's own words.
export function fail (what, err) {
  console.error(`${what}: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
}
