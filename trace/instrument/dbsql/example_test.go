package dbsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/dbsql"
)

func ExampleObfuscate() {
	fmt.Println(dbsql.Obfuscate(`SELECT name FROM beers WHERE style = 'stout' AND abv > 7.5 AND id = $1`))
	// Output: SELECT name FROM beers WHERE style = ? AND abv > ? AND id = $1
}

// Open opens a database through a registered driver, wrapped: every statement run inside a trace is a client
// span holding the statement with its literals obfuscated.
func ExampleOpen() {
	registerOnce.Do(func() { sql.Register("weft-legacy", legacyDriver{}) })
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	db, err := dbsql.Open("weft-legacy", "", dbsql.Options{Tracer: p.Tracer("matchmaker"), System: "sqlite"})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	ctx, span := p.Tracer("matchmaker").Start(context.Background(), "GET /beers")
	var n int64
	_ = db.QueryRowContext(ctx, "SELECT count(*) FROM beers WHERE abv > 7.5").Scan(&n)
	span.End()
	p.Flush(context.Background())

	q := find(rec.Spans(), "sql.query")
	fmt.Println(q.Kind, attr(q, dbsql.AttrSystem), attr(q, "db.statement"))
	// Output: client sqlite SELECT count(*) FROM beers WHERE abv > ?
}

// WrapConnector traces a database opened from a driver's connector, as sql.OpenDB does.
func ExampleWrapConnector() {
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	db := sql.OpenDB(dbsql.WrapConnector(connector{}, dbsql.Options{Tracer: p.Tracer("matchmaker"), System: "legacy"}))
	defer db.Close()

	ctx, span := p.Tracer("matchmaker").Start(context.Background(), "nightly cleanup")
	_, _ = db.ExecContext(ctx, "DELETE FROM sessions WHERE age > 30")
	span.End()
	p.Flush(context.Background())

	fmt.Println(len(rec.Spans()) > 1, attr(find(rec.Spans(), "sql.exec"), "db.statement"))
	// Output: true DELETE FROM sessions WHERE age > ?
}

// connector opens legacyDriver's connections, as a driver's own connector would.
type connector struct{}

func (connector) Connect(context.Context) (driver.Conn, error) { return legacyDriver{}.Open("") }
func (connector) Driver() driver.Driver                        { return legacyDriver{} }

// find returns the first span named name, or nil.
func find(spans []*trace.SpanData, name string) *trace.SpanData {
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// attr returns the text of s's attribute key, or "".
func attr(s *trace.SpanData, key string) string {
	if s == nil {
		return ""
	}
	for _, a := range s.Attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}
