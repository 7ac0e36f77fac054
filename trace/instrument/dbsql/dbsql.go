// Package dbsql traces database/sql for any driver: it wraps a driver.Driver or driver.Connector so that every
// query, exec, prepare, begin, commit and rollback is a client span carrying the statement with its literal
// values obfuscated, the rows affected and the error. It sits between a program's *sql.DB and its driver, and
// works with drivers that lack the context-aware interfaces (it falls back as database/sql does).
//
//	db, err := dbsql.Open("sqlite", ":memory:", dbsql.Options{System: "sqlite"})
//
// Wrapping never changes what the driver returns: errors, results and rows pass through untouched, and
// driver.ErrSkip is returned exactly when the driver would have made database/sql fall back.
package dbsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/weftrace/weft/trace"
)

// Attribute keys, as OpenTelemetry's database semantic conventions name them.
const (
	AttrSystem       = "db.system"
	AttrStatement    = "db.statement"
	AttrOperation    = "db.operation"
	AttrRowsAffected = "db.rows_affected"
	AttrName         = "db.name"
)

// Options configure the wrapper.
type Options struct {
	// Tracer starts the spans; nil means trace.Default().Tracer("weft/dbsql").
	Tracer *trace.Tracer
	// System names the database (db.system): postgresql, sqlite, mysql, ...
	System string
	// Name is the database's name (db.name), if useful.
	Name string
	// Service, when set, is the spans' own service (Datadog style: the database shows as its own service).
	Service string
	// KeepLiterals records statements as given, without obfuscating literal values. Off by default: literals
	// often hold personal data.
	KeepLiterals bool
	// SkipResultsAndPing leaves out Ping, ResetSession and rows-less housekeeping spans (they are never traced
	// now; the field is reserved).
	_ struct{}
}

type tracer struct {
	t    *trace.Tracer
	opts Options
}

func newTracer(o Options) *tracer {
	t := o.Tracer
	if t == nil {
		t = trace.Default().Tracer("weft/dbsql")
	}
	return &tracer{t: t, opts: o}
}

// start begins a span for op; query may be empty (begin, commit, rollback).
func (t *tracer) start(ctx context.Context, op, query string) (context.Context, *trace.Span) {
	if ctx == nil {
		ctx = context.Background()
	}
	if trace.SpanFromContext(ctx) == nil && !trace.SpanContextFromContext(ctx).IsValid() {
		// No trace to join: database housekeeping outside a request is not worth a root span of its own.
		return ctx, nil
	}
	name := "sql." + op
	var stmt string
	if query != "" {
		stmt = query
		if !t.opts.KeepLiterals {
			stmt = Obfuscate(query)
		}
	}
	opts := [5]trace.StartOption{trace.WithKind(trace.KindClient), trace.WithType("sql"),
		trace.WithAttrs(trace.String(AttrSystem, t.opts.System), trace.String(AttrOperation, op))}
	n := 3
	if stmt != "" {
		opts[n] = trace.WithAttrs(trace.String(AttrStatement, stmt))
		opts[n+1] = trace.WithResource(stmt)
		n += 2
	}
	ctx, span := t.t.Start(ctx, name, opts[:n]...)
	if span != nil {
		if t.opts.Service != "" {
			span.SetService(t.opts.Service)
		}
		if t.opts.Name != "" {
			span.SetAttrs(trace.String(AttrName, t.opts.Name))
		}
	}
	return ctx, span
}

// end finishes span with err; driver.ErrSkip is not an error of the database.
func end(span *trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, driver.ErrSkip) {
		span.RecordError(err)
	}
	span.End()
}

// Open opens a *sql.DB on the registered driver driverName with its spans traced.
func Open(driverName, dsn string, o Options) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	d := db.Driver()
	db.Close()
	if dc, ok := d.(driver.DriverContext); ok {
		c, err := dc.OpenConnector(dsn)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(WrapConnector(c, o)), nil
	}
	return sql.OpenDB(dsnConnector{dsn: dsn, d: Wrap(d, o)}), nil
}

// dsnConnector opens connections through a driver that has no connector of its own, as database/sql does.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// Wrap returns a driver whose connections are traced.
func Wrap(d driver.Driver, o Options) driver.Driver {
	return &wrappedDriver{d: d, t: newTracer(o)}
}

type wrappedDriver struct {
	d driver.Driver
	t *tracer
}

func (d *wrappedDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, t: d.t}, nil
}

// OpenConnector is there when the wrapped driver has it.
func (d *wrappedDriver) OpenConnector(name string) (driver.Connector, error) {
	dc, ok := d.d.(driver.DriverContext)
	if !ok {
		return dsnConnector{dsn: name, d: d}, nil
	}
	c, err := dc.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return &connector{c: c, t: d.t, d: d}, nil
}

// WrapConnector returns a connector whose connections are traced.
func WrapConnector(c driver.Connector, o Options) driver.Connector {
	t := newTracer(o)
	return &connector{c: c, t: t, d: &wrappedDriver{d: c.Driver(), t: t}}
}

type connector struct {
	c driver.Connector
	t *tracer
	d *wrappedDriver
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &conn{c: cn, t: c.t}, nil
}

func (c *connector) Driver() driver.Driver { return c.d }

// Close closes the wrapped connector if it has a Close.
func (c *connector) Close() error {
	if cl, ok := c.c.(interface{ Close() error }); ok {
		return cl.Close()
	}
	return nil
}

// namedToValues converts arguments for drivers without the context interfaces, as database/sql does.
func namedToValues(args []driver.NamedValue) ([]driver.Value, error) {
	v := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		v[i] = a.Value
	}
	return v, nil
}
