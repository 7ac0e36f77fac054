package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/weftrace/weft/trace"
)

// matchmaker is the demo's front service: beers and donuts from SQL, donut facts from Redis, and pairings
// that ask the taster about every candidate donut.
type matchmaker struct {
	db        *sql.DB
	facts     factStore
	taster    *http.Client
	tasterURL string
	tracer    *trace.Tracer
}

func (m *matchmaker) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /beers", m.listBeers)
	mux.HandleFunc("GET /donuts", m.listDonuts)
	mux.HandleFunc("GET /beers/{name}", m.getBeer)
	mux.HandleFunc("GET /donuts/{name}", m.getDonut)
	mux.HandleFunc("GET /pair/beer", m.pairBeer)
	return mux
}

func (m *matchmaker) listBeers(w http.ResponseWriter, r *http.Request) {
	rows, err := m.db.QueryContext(r.Context(), `SELECT name, style, abv, ibu FROM beers ORDER BY name`)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	var out []beer
	for rows.Next() {
		var b beer
		if err := rows.Scan(&b.Name, &b.Style, &b.ABV, &b.Bitterness); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = append(out, b)
	}
	writeJSON(w, out)
}

func (m *matchmaker) getBeer(w http.ResponseWriter, r *http.Request) {
	b, err := m.beer(r.Context(), r.PathValue("name"))
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "no such beer", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, b)
}

func (m *matchmaker) beer(ctx context.Context, name string) (beer, error) {
	var b beer
	err := m.db.QueryRowContext(ctx, `SELECT name, style, abv, ibu FROM beers WHERE name = ?`, name).
		Scan(&b.Name, &b.Style, &b.ABV, &b.Bitterness)
	return b, err
}

func (m *matchmaker) donuts(ctx context.Context) ([]donut, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT name, flavor, sweetness FROM donuts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []donut
	for rows.Next() {
		var d donut
		if err := rows.Scan(&d.Name, &d.Flavor, &d.Sweetness); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (m *matchmaker) listDonuts(w http.ResponseWriter, r *http.Request) {
	ds, err := m.donuts(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	keys := []string{"MGET"}
	for _, d := range ds {
		keys = append(keys, stockKey(d.Name))
	}
	if v, err := m.facts.do(r.Context(), keys...); err == nil {
		if vs, ok := v.([]any); ok {
			for i := range ds {
				if i < len(vs) {
					ds[i].Stock = toInt(vs[i])
				}
			}
		}
	}
	writeJSON(w, ds)
}

func (m *matchmaker) getDonut(w http.ResponseWriter, r *http.Request) {
	var d donut
	err := m.db.QueryRowContext(r.Context(), `SELECT name, flavor, sweetness FROM donuts WHERE name = ?`, r.PathValue("name")).
		Scan(&d.Name, &d.Flavor, &d.Sweetness)
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "no such donut", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if v, err := m.facts.do(r.Context(), "GET", stockKey(d.Name)); err == nil {
		d.Stock = toInt(v)
	}
	if v, err := m.facts.do(r.Context(), "GET", bakedKey(d.Name)); err == nil {
		if ns := toInt(v); ns > 0 {
			d.BakedAgo = time.Since(time.Unix(0, ns)).Round(time.Second).String()
		}
	}
	writeJSON(w, d)
}

// pairBeer finds the donut that goes best with a beer. It is slow on purpose, in the way a trace shows: it asks
// the taster about each candidate donut one after another, though the calls do not depend on each other and
// could run in parallel (trace.Group would do it).
func (m *matchmaker) pairBeer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := m.beer(ctx, r.URL.Query().Get("name"))
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "no such beer", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ds, err := m.donuts(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	best, bestScore := "", -1.0
	for _, d := range ds {
		v, err := m.facts.do(ctx, "GET", stockKey(d.Name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if toInt(v) <= 0 {
			continue // sold out
		}
		score, err := m.taste(ctx, b, d)
		if err != nil {
			http.Error(w, "taster: "+err.Error(), http.StatusBadGateway)
			return
		}
		if score > bestScore {
			best, bestScore = d.Name, score
		}
	}
	if best == "" {
		http.Error(w, "every donut is sold out", http.StatusServiceUnavailable)
		return
	}
	if _, err := m.facts.do(ctx, "INCRBY", stockKey(best), "-1"); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, map[string]any{"beer": b.Name, "donut": best, "score": bestScore})
}

// taste asks the taster service how well d goes with b.
func (m *matchmaker) taste(ctx context.Context, b beer, d donut) (float64, error) {
	ctx, span := m.tracer.Start(ctx, "taste", trace.WithAttrs(trace.String("beer", b.Name), trace.String("donut", d.Name)))
	defer span.End()
	q := url.Values{"beer": {b.Name}, "style": {b.Style}, "donut": {d.Name}, "flavor": {d.Flavor}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.tasterURL+"/taste?"+q.Encode(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := m.taster.Do(req)
	if err != nil {
		span.RecordError(err)
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("status %d", resp.StatusCode)
		span.RecordError(err)
		return 0, err
	}
	var out struct {
		Score float64 `json:"score"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		span.RecordError(err)
		return 0, err
	}
	span.SetAttrs(trace.Float64("score", out.Score))
	return out.Score, nil
}

// taster rates a beer and donut pairing, taking its time (a mouthful takes 15–30 ms).
type taster struct {
	tracer *trace.Tracer
}

func (t *taster) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /taste", t.taste)
	return mux
}

func (t *taster) taste(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	beer, donut := q.Get("beer"), q.Get("donut")
	if beer == "" || donut == "" {
		http.Error(w, "want beer and donut", http.StatusBadRequest)
		return
	}
	h := fnv.New32a()
	h.Write([]byte(beer + "/" + donut))
	sum := h.Sum32()
	_, span := t.tracer.Start(r.Context(), "savor", trace.WithAttrs(trace.String("style", q.Get("style")), trace.String("flavor", q.Get("flavor"))))
	select {
	case <-time.After(time.Duration(15+sum%16) * time.Millisecond):
	case <-r.Context().Done():
	}
	span.End()
	score := float64(sum%1000) / 100
	writeJSON(w, map[string]any{"beer": beer, "donut": donut, "score": score})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func stockKey(d string) string { return "weft-demo:donut:" + d + ":stock" }
func bakedKey(d string) string { return "weft-demo:donut:" + d + ":baked" }

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}
