package dbtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/weftrace/weft/trace"
	"github.com/weftrace/weft/trace/instrument/dbsql"
)

// unavailable fails the test when CI=true (the database must be there) and skips it otherwise.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// startPostgres starts a throwaway PostgreSQL cluster on 127.0.0.1 and a free port and returns its DSN.
func startPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			bins = []string{p}
		} else {
			unavailable(t, "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin)")
		}
	}
	sort.Strings(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "weft-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// initdb refuses to run as root: run the server as the postgres user then.
	var prefix []string
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			unavailable(t, "running as root and cannot hand %s to the postgres user: %v", dir, err)
		}
		prefix = []string{"runuser", "-u", "postgres", "--"}
	}
	run := func(name string, args ...string) error {
		all := append(append([]string{}, prefix...), filepath.Join(bin, name))
		all = append(all, args...)
		cmd := exec.Command(all[0], all[1:]...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-A", "trust", "-U", "weft", "--no-sync", "-E", "UTF8"); err != nil {
		unavailable(t, "initdb: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		unavailable(t, "pg_ctl start: %v\n%s", err, log)
	}
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
	return fmt.Sprintf("host=127.0.0.1 port=%d user=weft dbname=postgres sslmode=disable", port)
}

type spanView struct {
	name, stmt string
	err        bool
	rows       int64
}

// TestRealDatabases runs the same statements against SQLite and PostgreSQL through the traced driver and checks
// the spans they make, and that the driver's answers come through unchanged.
func TestRealDatabases(t *testing.T) {
	backends := []struct {
		system, driver string
		dsn            func(t *testing.T) string
		ph             func(i int) string
	}{
		{"sqlite", "sqlite", func(*testing.T) string { return "file:dbtest?mode=memory&cache=shared" }, func(int) string { return "?" }},
		{"postgresql", "postgres", startPostgres, func(i int) string { return "$" + strconv.Itoa(i) }},
	}
	for _, b := range backends {
		t.Run(b.system, func(t *testing.T) {
			dsn := b.dsn(t)
			rec := &trace.Recorder{}
			p := trace.NewProvider(trace.Config{Exporter: rec})
			defer p.Shutdown(context.Background())
			db, err := dbsql.Open(b.driver, dsn, dbsql.Options{Tracer: p.Tracer("test"), System: b.system})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := db.ExecContext(ctx, "CREATE TABLE beers (name TEXT PRIMARY KEY, abv REAL NOT NULL)"); err != nil {
				t.Fatal(err)
			}

			ctx, root := p.Tracer("test").Start(ctx, "root")
			res, err := db.ExecContext(ctx, "INSERT INTO beers (name, abv) VALUES ('IPA', 6.5), ('Stout', 7.5)")
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 2 {
				t.Errorf("rows affected %d, want 2", n)
			}
			var abv float64
			if err := db.QueryRowContext(ctx, "SELECT abv FROM beers WHERE name = "+b.ph(1), "Stout").Scan(&abv); err != nil || abv != 7.5 {
				t.Errorf("abv %v, %v; want 7.5", abv, err)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "UPDATE beers SET abv = abv + 1 WHERE name = "+b.ph(1), "IPA"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			tx, err = db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			tx.ExecContext(ctx, "DELETE FROM beers")
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			stmt, err := db.PrepareContext(ctx, "SELECT count(*) FROM beers WHERE abv > "+b.ph(1))
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := stmt.QueryRowContext(ctx, 7).Scan(&n); err != nil || n != 2 {
				t.Errorf("count %d, %v; want 2 (the rollback kept both rows)", n, err)
			}
			stmt.Close()
			_, err = db.ExecContext(ctx, "SELEKT 1")
			if err == nil {
				t.Error("bad SQL: no error")
			}
			root.End()
			p.Flush(context.Background())

			var got []spanView
			for _, s := range rec.Spans() {
				if s.Name == "root" {
					continue
				}
				if s.TraceID != root.SpanContext().TraceID {
					t.Errorf("span %s is in another trace", s.Name)
				}
				if v, _ := s.Attr(dbsql.AttrSystem); v.AsString() != b.system {
					t.Errorf("span %s: db.system %q", s.Name, v.AsString())
				}
				v := spanView{name: s.Name, err: s.StatusCode == trace.StatusError, rows: -1}
				if a, ok := s.Attr(dbsql.AttrStatement); ok {
					v.stmt = a.AsString()
				}
				if a, ok := s.Attr(dbsql.AttrRowsAffected); ok {
					v.rows = a.AsInt64()
				}
				got = append(got, v)
			}
			has := func(w spanView) {
				t.Helper()
				for _, g := range got {
					if g == w {
						return
					}
				}
				t.Errorf("no span %+v among\n%s", w, dump(got))
			}
			has(spanView{"sql.exec", "INSERT INTO beers (name, abv) VALUES (?, ?), (?, ?)", false, 2})
			has(spanView{"sql.begin", "", false, -1})
			has(spanView{"sql.commit", "", false, -1})
			has(spanView{"sql.rollback", "", false, -1})
			has(spanView{"sql.prepare", "SELECT count(*) FROM beers WHERE abv > " + b.ph(1), false, -1})
			var sawQuery, sawErr bool
			for _, g := range got {
				sawQuery = sawQuery || (g.name == "sql.query" && strings.HasPrefix(g.stmt, "SELECT abv FROM beers WHERE name = "))
				sawErr = sawErr || (g.err && g.stmt == "SELEKT ?")
			}
			if !sawQuery || !sawErr {
				t.Errorf("query span %v, failed statement span %v among\n%s", sawQuery, sawErr, dump(got))
			}
		})
	}
}

func dump(v []spanView) string {
	var b strings.Builder
	for _, s := range v {
		fmt.Fprintf(&b, "  %+v\n", s)
	}
	return b.String()
}
