package dbsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/dbsql"
)

// legacyDriver is a driver with none of the context interfaces: only Open, Prepare, Begin, Exec and Query on
// statements, as the oldest drivers are. Statements starting with "FAIL" fail.
type legacyDriver struct{}

func (legacyDriver) Open(string) (driver.Conn, error) { return &legacyConn{}, nil }

type legacyConn struct{}

func (c *legacyConn) Prepare(q string) (driver.Stmt, error) {
	if strings.HasPrefix(q, "FAIL PREPARE") {
		return nil, errors.New("cannot prepare")
	}
	return &legacyStmt{q: q}, nil
}
func (c *legacyConn) Close() error              { return nil }
func (c *legacyConn) Begin() (driver.Tx, error) { return legacyTx{}, nil }

type legacyTx struct{}

func (legacyTx) Commit() error   { return nil }
func (legacyTx) Rollback() error { return errors.New("rollback refused") }

type legacyStmt struct{ q string }

func (s *legacyStmt) Close() error  { return nil }
func (s *legacyStmt) NumInput() int { return -1 }
func (s *legacyStmt) Exec(args []driver.Value) (driver.Result, error) {
	if strings.HasPrefix(s.q, "FAIL") {
		return nil, errors.New("exec failed")
	}
	return driver.RowsAffected(len(args)), nil
}
func (s *legacyStmt) Query(args []driver.Value) (driver.Rows, error) {
	if strings.HasPrefix(s.q, "FAIL") {
		return nil, errors.New("query failed")
	}
	return &legacyRows{n: 3}, nil
}

type legacyRows struct{ n int }

func (r *legacyRows) Columns() []string { return []string{"n"} }
func (r *legacyRows) Close() error      { return nil }
func (r *legacyRows) Next(dest []driver.Value) error {
	if r.n == 0 {
		return io.EOF
	}
	dest[0] = int64(r.n)
	r.n--
	return nil
}

var registerOnce sync.Once

func TestLegacyDriver(t *testing.T) {
	registerOnce.Do(func() { sql.Register("weft-legacy", legacyDriver{}) })
	rec := &trace.Recorder{}
	p := trace.NewProvider(trace.Config{Exporter: rec})
	defer p.Shutdown(context.Background())
	db, err := dbsql.Open("weft-legacy", "", dbsql.Options{Tracer: p.Tracer("test"), System: "legacy"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Outside a trace nothing is recorded.
	if _, err := db.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	ctx, root := p.Tracer("test").Start(context.Background(), "root")
	res, err := db.ExecContext(ctx, "UPDATE beers SET abv = 5.5 WHERE name = 'IPA' AND id = ?", 7)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Errorf("rows affected %d, want the driver's 1", n)
	}
	rows, err := db.QueryContext(ctx, "SELECT n FROM t WHERE x > 10")
	if err != nil {
		t.Fatal(err)
	}
	var count int
	for rows.Next() {
		count++
	}
	rows.Close()
	if count != 3 {
		t.Errorf("%d rows, want 3", count)
	}
	if _, err := db.ExecContext(ctx, "FAIL now"); err == nil || err.Error() != "exec failed" {
		t.Errorf("error %v, want the driver's", err)
	}
	if _, err := db.ExecContext(ctx, "FAIL PREPARE"); err == nil || err.Error() != "cannot prepare" {
		t.Errorf("error %v, want the driver's", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx.ExecContext(ctx, "DELETE FROM t")
	if err := tx.Rollback(); err == nil || err.Error() != "rollback refused" {
		t.Errorf("rollback error %v, want the driver's", err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t (a) VALUES (:a)", sql.Named("a", 1)); err == nil {
		t.Error("named argument to a driver without them: no error")
	}
	root.End()
	p.Flush(context.Background())

	type want struct {
		name, stmt string
		err        bool
		rows       int64
	}
	var got []want
	// Spans are exported in no guaranteed order (per-CPU buffers); all of these started on this goroutine's
	// execution unit, so the sequence number of their start event is their exact order.
	spans := rec.Spans()
	sort.Slice(spans, func(i, j int) bool { return spans[i].StartSeq < spans[j].StartSeq })
	for _, s := range spans {
		if s.Name == "root" {
			continue
		}
		w := want{name: s.Name, err: s.StatusCode == trace.StatusError, rows: -1}
		if v, ok := s.Attr(dbsql.AttrStatement); ok {
			w.stmt = v.AsString()
		}
		if v, ok := s.Attr(dbsql.AttrRowsAffected); ok {
			w.rows = v.AsInt64()
		}
		if s.ParentID != root.SpanContext().SpanID && !strings.HasPrefix(s.Name, "sql.") {
			t.Errorf("span %s is not the root's child", s.Name)
		}
		got = append(got, w)
	}
	expect := []want{
		{"sql.prepare", "UPDATE beers SET abv = ? WHERE name = ? AND id = ?", false, -1},
		{"sql.exec", "UPDATE beers SET abv = ? WHERE name = ? AND id = ?", false, 1},
		{"sql.prepare", "SELECT n FROM t WHERE x > ?", false, -1},
		{"sql.query", "SELECT n FROM t WHERE x > ?", false, -1},
		{"sql.prepare", "FAIL now", false, -1},
		{"sql.exec", "FAIL now", true, -1},
		{"sql.prepare", "FAIL PREPARE", true, -1},
		{"sql.begin", "", false, -1},
		{"sql.prepare", "DELETE FROM t", false, -1},
		{"sql.exec", "DELETE FROM t", false, 0},
		{"sql.rollback", "", true, -1},
		{"sql.prepare", "INSERT INTO t (a) VALUES (:a)", false, -1},
		{"sql.exec", "INSERT INTO t (a) VALUES (:a)", true, -1},
	}
	if len(got) != len(expect) {
		t.Fatalf("spans:\n%v\nwant\n%v", got, expect)
	}
	for i := range got {
		if got[i] != expect[i] {
			t.Errorf("span %d: %+v, want %+v", i, got[i], expect[i])
		}
	}
}
