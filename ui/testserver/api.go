package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (d *data) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/services", d.services)
	mux.HandleFunc("GET /api/services/{service}/operations", d.operations)
	mux.HandleFunc("GET /api/traces", d.search)
	mux.HandleFunc("GET /api/traces/{id}", d.trace)
	mux.HandleFunc("GET /api/dependencies", d.dependencies)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "no such API: "+r.URL.Path)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"data": nil, "errors": []map[string]any{{"code": status, "msg": msg}}})
}

func (d *data) services(w http.ResponseWriter, r *http.Request) {
	seen := map[string]bool{}
	for _, t := range d.traces {
		for _, s := range t.Spans {
			seen[s.service] = true
		}
	}
	var out []string
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	writeJSON(w, map[string]any{"data": out, "total": len(out)})
}

func (d *data) operations(w http.ResponseWriter, r *http.Request) {
	svc := r.PathValue("service")
	seen := map[string]bool{}
	for _, t := range d.traces {
		for _, s := range t.Spans {
			if s.service == svc {
				seen[s.OperationName] = true
			}
		}
	}
	out := []string{}
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	writeJSON(w, map[string]any{"data": out, "total": len(out)})
}

func (d *data) encoded(t *jtrace) []byte {
	if t.encoded == nil {
		b, _ := json.Marshal(t)
		t.encoded = b
	}
	return t.encoded
}

func (d *data) trace(w http.ResponseWriter, r *http.Request) {
	t := d.byID[strings.ToLower(r.PathValue("id"))]
	if t == nil {
		writeErr(w, http.StatusNotFound, "trace not found")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"data":[`))
	w.Write(d.encoded(t))
	w.Write([]byte(`],"total":1,"limit":0,"offset":0,"errors":null}`))
}

func parseDuration(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, false
	}
	return dur.Microseconds(), true
}

// search follows the Jaeger API: a trace matches when one span matches service, operation, every tag and the
// duration bounds; the trace's start must fall in [start, end]; newest first.
func (d *data) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	svc, op := q.Get("service"), q.Get("operation")
	if svc == "" {
		writeErr(w, http.StatusBadRequest, "parameter 'service' is required")
		return
	}
	tags := map[string]string{}
	if s := q.Get("tags"); s != "" {
		if err := json.Unmarshal([]byte(s), &tags); err != nil {
			writeErr(w, http.StatusBadRequest, "malformed 'tags' parameter: "+err.Error())
			return
		}
	}
	for _, t := range q["tag"] {
		k, v, _ := strings.Cut(t, ":")
		tags[k] = v
	}
	minD, ok1 := parseDuration(q.Get("minDuration"))
	maxD, ok2 := parseDuration(q.Get("maxDuration"))
	if !ok1 || !ok2 {
		writeErr(w, http.StatusBadRequest, "cannot parse minDuration or maxDuration")
		return
	}
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 20
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"data":[`))
	n := 0
	for _, t := range d.traces {
		if n >= limit {
			break
		}
		if (start > 0 && t.start < start) || (end > 0 && t.start > end) {
			continue
		}
		if !matches(t, svc, op, tags, minD, maxD) {
			continue
		}
		if n > 0 {
			w.Write([]byte(","))
		}
		w.Write(d.encoded(t))
		n++
	}
	w.Write([]byte(`],"total":` + strconv.Itoa(n) + `,"limit":0,"offset":0,"errors":null}`))
}

func matches(t *jtrace, svc, op string, tags map[string]string, minD, maxD int64) bool {
	for _, s := range t.Spans {
		if s.service != svc || (op != "" && s.OperationName != op) {
			continue
		}
		if minD > 0 && s.Duration < minD || maxD > 0 && s.Duration > maxD {
			continue
		}
		ok := true
		for k, v := range tags {
			if !hasTag(s.Tags, k, v) && !hasTag(processes[s.service].Tags, k, v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func hasTag(tags []kv, k, v string) bool {
	for _, t := range tags {
		if t.Key == k {
			switch x := t.Value.(type) {
			case string:
				return x == v
			case int64:
				return strconv.FormatInt(x, 10) == v
			case bool:
				return strconv.FormatBool(x) == v
			}
		}
	}
	return false
}

func (d *data) dependencies(w http.ResponseWriter, r *http.Request) {
	type edge struct{ p, c string }
	count := map[edge]int{}
	for _, t := range d.traces {
		for _, s := range t.Spans {
			if s.parent != nil && s.parent.service != s.service {
				count[edge{s.parent.service, s.service}]++
			}
		}
	}
	out := []map[string]any{}
	for e, n := range count {
		out = append(out, map[string]any{"parent": e.p, "child": e.c, "callCount": n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i]["parent"].(string)+out[i]["child"].(string) < out[j]["parent"].(string)+out[j]["child"].(string)
	})
	writeJSON(w, map[string]any{"data": out})
}
