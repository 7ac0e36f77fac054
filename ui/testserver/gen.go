package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// kv is a Jaeger tag.
type kv struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jlog struct {
	Timestamp int64 `json:"timestamp"`
	Fields    []kv  `json:"fields"`
}

type jref struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jspan struct {
	TraceID       string   `json:"traceID"`
	SpanID        string   `json:"spanID"`
	OperationName string   `json:"operationName"`
	References    []jref   `json:"references"`
	Flags         int      `json:"flags"`
	StartTime     int64    `json:"startTime"`
	Duration      int64    `json:"duration"`
	Tags          []kv     `json:"tags"`
	Logs          []jlog   `json:"logs"`
	ProcessID     string   `json:"processID"`
	Warnings      []string `json:"warnings"`

	service string
	parent  *jspan
}

type jprocess struct {
	ServiceName string `json:"serviceName"`
	Tags        []kv   `json:"tags"`
}

type jtrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []*jspan            `json:"spans"`
	Processes map[string]jprocess `json:"processes"`
	Warnings  []string            `json:"warnings"`

	start, duration int64
}

func str(k, v string) kv       { return kv{k, "string", v} }
func num(k string, v int64) kv { return kv{k, "int64", v} }
func boolean(k string, v bool) kv {
	return kv{k, "bool", v}
}

var processes = map[string]jprocess{
	"frontend":   {"frontend", []kv{str("host.name", "web-1"), str("service.version", "1.4.2"), str("telemetry.sdk.name", "weft")}},
	"matchmaker": {"matchmaker", []kv{str("host.name", "mm-2"), str("service.version", "2.0.1"), str("telemetry.sdk.name", "weft")}},
	"taster":     {"taster", []kv{str("host.name", "taster-1"), str("service.version", "0.9.0"), str("telemetry.sdk.name", "weft")}},
	"mysql":      {"mysql", []kv{str("host.name", "db-1"), str("db.system", "mysql")}},
	"redis":      {"redis", []kv{str("host.name", "cache-1"), str("db.system", "redis")}},
	"importer":   {"importer", []kv{str("host.name", "batch-1"), str("telemetry.sdk.name", "weft")}},
}

// builder makes the spans of one trace, numbering events on execution units as the weft library would.
type builder struct {
	r     *rand.Rand
	tr    *jtrace
	units map[string]int // unit hex -> last seq
	nunit uint64
}

func (b *builder) newUnit() string {
	b.nunit++
	u := fmt.Sprintf("%016x", b.nunit*0x9e3779b97f4a7c15)
	b.units[u] = 0
	return u
}

func (b *builder) next(unit string) int {
	b.units[unit]++
	return b.units[unit]
}

func (b *builder) span(parent *jspan, service, op, kind string, start, dur int64, unit, cause string, tags ...kv) *jspan {
	id := fmt.Sprintf("%016x", b.r.Uint64()|1)
	s := &jspan{TraceID: b.tr.TraceID, SpanID: id, OperationName: op, StartTime: start, Duration: dur,
		ProcessID: service, service: service, parent: parent, References: []jref{}, Logs: []jlog{}}
	if parent != nil {
		s.References = append(s.References, jref{"CHILD_OF", b.tr.TraceID, parent.SpanID})
	}
	s.Tags = append(s.Tags, str("span.kind", kind))
	s.Tags = append(s.Tags, tags...)
	if unit != "" {
		s.Tags = append(s.Tags, str("weft.unit", unit), num("weft.seq.start", int64(b.next(unit))))
		if cause != "" {
			s.Tags = append(s.Tags, str("weft.cause", cause))
		}
	}
	b.tr.Spans = append(b.tr.Spans, s)
	return s
}

func (b *builder) end(s *jspan, unit string) {
	if unit != "" {
		s.Tags = append(s.Tags, num("weft.seq.end", int64(b.next(unit))))
	}
}

func (b *builder) event(s *jspan, t int64, name, unit, cause string, fields ...kv) string {
	f := []kv{str("event", name)}
	ref := ""
	if unit != "" {
		seq := b.next(unit)
		f = append(f, num("weft.seq", int64(seq)))
		if cause != "" {
			f = append(f, str("weft.cause", cause))
		}
		ref = fmt.Sprintf("%s:%d", unit, seq)
	}
	s.Logs = append(s.Logs, jlog{t, append(f, fields...)})
	return ref
}

func (b *builder) fail(s *jspan, msg string) {
	s.Tags = append(s.Tags, boolean("error", true), str("otel.status_code", "ERROR"), str("otel.status_description", msg))
}

func (b *builder) jitter(base float64) int64 {
	return int64(base * math.Exp(b.r.NormFloat64()*0.35))
}

// data is everything the server answers from.
type data struct {
	traces []*jtrace
	byID   map[string]*jtrace
	bigID  string
	errID  string
	someID string
}

func generate(now time.Time, n, bigSpans int) *data {
	r := rand.New(rand.NewPCG(42, 7))
	d := &data{byID: map[string]*jtrace{}}
	nowUS := now.UnixMicro()
	for i := 0; i < n; i++ {
		// Spread over the last two hours; version v2 (the last 40 minutes) has a slower taster.
		start := nowUS - int64(r.Float64()*2*3600e6)
		v2 := start > nowUS-40*60e6
		tr := d.demoTrace(r, start, v2, i)
		d.add(tr)
	}
	if bigSpans > 0 {
		tr := d.bigTrace(r, nowUS-5*60e6, bigSpans)
		d.add(tr)
		d.bigID = tr.TraceID
	}
	sort.Slice(d.traces, func(i, j int) bool { return d.traces[i].start > d.traces[j].start })
	for _, t := range d.traces {
		if t.TraceID == d.bigID {
			continue
		}
		if d.someID == "" && len(t.Spans) > 15 {
			d.someID = t.TraceID
		}
		if d.errID == "" && hasError(t) {
			d.errID = t.TraceID
		}
	}
	return d
}

func hasError(t *jtrace) bool {
	for _, s := range t.Spans {
		for _, tg := range s.Tags {
			if tg.Key == "error" {
				return true
			}
		}
	}
	return false
}

func (d *data) add(tr *jtrace) {
	tr.Processes = map[string]jprocess{}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range tr.Spans {
		tr.Processes[s.ProcessID] = processes[s.service]
		lo = min(lo, s.StartTime)
		hi = max(hi, s.StartTime+s.Duration)
	}
	tr.start, tr.duration = lo, hi-lo
	d.traces = append(d.traces, tr)
	d.byID[tr.TraceID] = tr
}

func newTrace(r *rand.Rand) *jtrace {
	return &jtrace{TraceID: fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), Warnings: []string{}}
}

// demoTrace is one request to the matchmaker demo: GET /pair, GET /beers or GET /donuts.
func (d *data) demoTrace(r *rand.Rand, start int64, v2 bool, i int) *jtrace {
	b := &builder{r: r, tr: newTrace(r), units: map[string]int{}}
	version := "v1"
	if v2 {
		version = "v2"
	}
	route := []string{"/pair", "/pair", "/pair", "/beers", "/donuts"}[r.IntN(5)]
	user := fmt.Sprintf("user-%03d", r.IntN(120))
	fu := b.newUnit()
	root := b.span(nil, "frontend", "GET "+route, "server", start, 0, fu, "",
		str("http.method", "GET"), str("http.route", route), str("http.url", "http://matchmaker.local"+route+"?style=stout"),
		str("user.id", user), str("deploy.version", version), num("http.request_content_length", 0))
	t := start + b.jitter(300)
	// Session lookup in Redis.
	t = d.cacheCall(b, root, "frontend", fu, t, "GET session:"+user)
	switch route {
	case "/pair":
		cl := b.span(root, "frontend", "POST matchmaker/pair", "client", t, 0, fu, "", str("peer.service", "matchmaker"), str("rpc.system", "http"))
		send := b.event(cl, t+20, "weft.send", fu, "")
		mu := b.newUnit()
		srv := b.span(cl, "matchmaker", "pair", "server", t+b.jitter(180), 0, mu, send, str("style", []string{"stout", "ipa", "lager", "sour"}[r.IntN(4)]), str("deploy.version", version))
		st := srv.StartTime + b.jitter(80)
		st = d.dbCall(b, srv, "matchmaker", mu, st, "SELECT beers", "SELECT * FROM beers WHERE style = ?", 2500)
		// Fork: score candidates in parallel on the taster.
		workers := 2 + r.IntN(3)
		joinAt := st
		type done struct {
			at  int64
			ref string
		}
		var ends []done
		for w := 0; w < workers; w++ {
			fork := b.event(srv, st+int64(w)*15, "weft.fork", mu, "")
			wu := b.newUnit()
			ws := st + int64(w)*15 + 10
			g := b.span(srv, "matchmaker", "score candidate", "internal", ws, 0, wu, fork, num("candidate", int64(w)))
			c := b.span(g, "matchmaker", "POST taster/taste", "client", ws+b.jitter(30), 0, wu, "", str("peer.service", "taster"))
			snd := b.event(c, c.StartTime+10, "weft.send", wu, "")
			tu := b.newUnit()
			slow := 6000.0
			if v2 {
				slow = 11000
			}
			ts := b.span(c, "taster", "taste", "server", c.StartTime+b.jitter(150), 0, tu, snd, num("candidate", int64(w)))
			tt := ts.StartTime + b.jitter(100)
			tt = d.cacheCall(b, ts, "taster", tu, tt, "GET flavor:"+fmt.Sprint(w))
			sc := b.span(ts, "taster", "score", "internal", tt, b.jitter(slow), tu, "", str("model", "hops-v3"))
			b.end(sc, tu)
			tt = sc.StartTime + sc.Duration + b.jitter(60)
			if r.IntN(40) == 0 {
				b.fail(ts, "taster: palate overloaded")
				b.event(ts, tt-20, "exception", "", "", str("exception.type", "OverloadError"), str("exception.message", "palate overloaded"))
			}
			ts.Duration = tt - ts.StartTime
			b.end(ts, tu)
			recv := b.event(c, tt+b.jitter(120), "weft.receive", wu, fmt.Sprintf("%s:%d", tu, b.units[tu]))
			_ = recv
			c.Duration = tt + b.jitter(150) - c.StartTime
			b.end(c, wu)
			g.Duration = c.StartTime + c.Duration + b.jitter(40) - g.StartTime
			b.end(g, wu)
			joinAt = max(joinAt, g.StartTime+g.Duration)
			ends = append(ends, done{g.StartTime + g.Duration, fmt.Sprintf("%s:%d", wu, b.units[wu])})
		}
		// The matchmaker joins the workers in the order they finish; the last join waited for the slowest.
		sort.Slice(ends, func(i, j int) bool { return ends[i].at < ends[j].at })
		for _, e := range ends {
			b.event(srv, e.at+5, "weft.join", mu, e.ref)
		}
		st = joinAt + b.jitter(200)
		st = d.cacheCall(b, srv, "matchmaker", mu, st, "SET pairing:"+user)
		if r.IntN(25) == 0 {
			b.fail(srv, "no donut matches this beer")
		}
		srv.Duration = st + b.jitter(60) - srv.StartTime
		b.end(srv, mu)
		b.event(cl, srv.StartTime+srv.Duration+50, "weft.receive", fu, fmt.Sprintf("%s:%d", mu, b.units[mu]))
		cl.Duration = srv.StartTime + srv.Duration + b.jitter(150) - cl.StartTime
		b.end(cl, fu)
		t = cl.StartTime + cl.Duration
	case "/beers", "/donuts":
		what := route[1:]
		t = d.dbCall(b, root, "frontend", fu, t, "SELECT "+what, "SELECT id, name FROM "+what+" LIMIT 50", 1800)
		if r.IntN(3) == 0 {
			t = d.dbCall(b, root, "frontend", fu, t, "SELECT ratings", "SELECT * FROM ratings WHERE id IN (?)", 900)
		}
	}
	t += b.jitter(250)
	root.Duration = t - start
	status := int64(200)
	for _, s := range b.tr.Spans {
		for _, tg := range s.Tags {
			if tg.Key == "error" && s != root {
				status = 500
			}
		}
	}
	root.Tags = append(root.Tags, num("http.status_code", status))
	if status == 500 {
		b.fail(root, "HTTP 500")
	}
	b.end(root, fu)
	// The taster's host clock runs 1.8 ms behind: its server spans appear to start before their callers sent
	// the request, which the clock analysis corrects.
	for _, s := range b.tr.Spans {
		if s.service == "taster" {
			s.StartTime -= 1800
			for k := range s.Logs {
				s.Logs[k].Timestamp -= 1800
			}
		}
	}
	return b.tr
}

func (d *data) cacheCall(b *builder, parent *jspan, service, unit string, t int64, cmd string) int64 {
	c := b.span(parent, service, "redis "+cmd[:3], "client", t, 0, unit, "", str("db.system", "redis"), str("db.statement", cmd), str("peer.service", "redis"))
	snd := b.event(c, t+5, "weft.send", unit, "")
	s := b.span(c, "redis", cmd[:3], "server", t+b.jitter(60), b.jitter(150), "", "", str("db.statement", cmd))
	_ = snd
	c.Duration = s.StartTime + s.Duration + b.jitter(60) - t
	b.end(c, unit)
	return t + c.Duration + b.jitter(20)
}

func (d *data) dbCall(b *builder, parent *jspan, service, unit string, t int64, op, stmt string, cost float64) int64 {
	c := b.span(parent, service, op, "client", t, 0, unit, "", str("db.system", "mysql"), str("db.statement", stmt), str("peer.service", "mysql"))
	s := b.span(c, "mysql", "query", "server", t+b.jitter(80), b.jitter(cost), "", "", str("db.statement", stmt), num("db.rows", int64(b.r.IntN(60))))
	c.Duration = s.StartTime + s.Duration + b.jitter(80) - t
	b.end(c, unit)
	return t + c.Duration + b.jitter(30)
}

// bigTrace is a batch import of about n spans: 8 workers in parallel, each importing records one after another,
// each record a small tree of parsing, validation, database writes and cache updates.
func (d *data) bigTrace(r *rand.Rand, start int64, n int) *jtrace {
	b := &builder{r: r, tr: newTrace(r), units: map[string]int{}}
	b.tr.TraceID = "b16b16b16b16b16b16b16b16b16b1600"
	ru := b.newUnit()
	root := b.span(nil, "importer", "import batch", "server", start, 0, ru, "", str("batch.id", "2026-11-22-0001"), num("batch.records", int64(n/100)))
	const workers = 8
	perRecord := 11 // spans per record, see below
	records := (n - 1 - workers) / perRecord
	t0 := start + 500
	var ends []string
	end := t0
	for w := 0; w < workers; w++ {
		fork := b.event(root, t0+int64(w)*3, "weft.fork", ru, "")
		wu := b.newUnit()
		ws := t0 + int64(w)*3 + 2
		ws0 := ws
		wk := b.span(root, "importer", fmt.Sprintf("worker %d", w), "internal", ws, 0, wu, fork, num("worker", int64(w)))
		for rec := w; rec < records; rec += workers {
			rs := b.span(wk, "importer", "import record", "internal", ws, 0, wu, "", num("record", int64(rec)))
			t := ws + 3
			p := b.span(rs, "importer", "parse", "internal", t, b.jitter(40), wu, "")
			b.end(p, wu)
			t += p.Duration + 2
			v := b.span(rs, "importer", "validate", "internal", t, b.jitter(25), wu, "")
			b.end(v, wu)
			t += v.Duration + 2
			for k := 0; k < 3; k++ {
				c := b.span(rs, "importer", "INSERT rows", "client", t, 0, wu, "", str("db.system", "mysql"), str("db.statement", "INSERT INTO rows VALUES (?, ?, ?)"))
				s := b.span(c, "mysql", "query", "server", t+8, b.jitter(60), "", "", str("db.statement", "INSERT INTO rows VALUES (?, ?, ?)"))
				c.Duration = s.Duration + 20
				b.end(c, wu)
				t += c.Duration + 2
			}
			c := b.span(rs, "importer", "redis SET", "client", t, 0, wu, "", str("db.system", "redis"))
			s := b.span(c, "redis", "SET", "server", t+5, b.jitter(15), "", "")
			c.Duration = s.Duration + 12
			b.end(c, wu)
			t += c.Duration + 2
			if rec%997 == 5 {
				b.fail(rs, "record rejected: duplicate key")
			}
			rs.Duration = t + 2 - rs.StartTime
			b.end(rs, wu)
			ws = t + 4
		}
		wk.Duration = ws - ws0
		b.end(wk, wu)
		end = max(end, ws)
		ends = append(ends, fmt.Sprintf("%s:%d", wu, b.units[wu]))
	}
	for _, e := range ends {
		b.event(root, end+1, "weft.join", ru, e)
	}
	root.Duration = end + 200 - start
	b.end(root, ru)
	return b.tr
}
