package dbsql

import (
	"context"
	"database/sql/driver"

	"github.com/weftrace/weft/trace"
)

// The driver is always given the caller's context, not the span's: nothing below the driver is traced.

// conn is a traced connection. It implements every optional interface database/sql looks for, and answers as
// database/sql expects when the wrapped connection lacks one (driver.ErrSkip, or the default behaviour).
type conn struct {
	c driver.Conn
	t *tracer
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	_, span := c.t.start(ctx, "prepare", query)
	var s driver.Stmt
	var err error
	if pc, ok := c.c.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		s, err = c.c.Prepare(query)
	}
	end(span, err)
	if err != nil {
		return nil, err
	}
	return &stmt{s: s, c: c.c, t: c.t, query: query}, nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	_, span := c.t.start(ctx, "begin", "")
	var tx driver.Tx
	var err error
	if bt, ok := c.c.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else {
		//lint:ignore SA1019 the fallback database/sql itself uses for drivers without BeginTx
		tx, err = c.c.Begin() //nolint:staticcheck
	}
	end(span, err)
	if err != nil {
		return nil, err
	}
	return &txn{tx: tx, t: c.t, ctx: ctx}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, hasCtx := c.c.(driver.ExecerContext)
	//lint:ignore SA1019 legacy drivers
	e, hasPlain := c.c.(driver.Execer) //nolint:staticcheck
	if !hasCtx && !hasPlain {
		return nil, driver.ErrSkip
	}
	_, span := c.t.start(ctx, "exec", query)
	var r driver.Result
	var err error
	if hasCtx {
		r, err = ec.ExecContext(ctx, query, args)
	} else {
		var v []driver.Value
		if v, err = namedToValues(args); err == nil {
			r, err = e.Exec(query, v)
		}
	}
	if err == nil && r != nil {
		rowsAffected(span, r)
	}
	end(span, err)
	return r, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, hasCtx := c.c.(driver.QueryerContext)
	//lint:ignore SA1019 legacy drivers
	q, hasPlain := c.c.(driver.Queryer) //nolint:staticcheck
	if !hasCtx && !hasPlain {
		return nil, driver.ErrSkip
	}
	_, span := c.t.start(ctx, "query", query)
	var rows driver.Rows
	var err error
	if hasCtx {
		rows, err = qc.QueryContext(ctx, query, args)
	} else {
		var v []driver.Value
		if v, err = namedToValues(args); err == nil {
			rows, err = q.Query(query, v)
		}
	}
	end(span, err)
	return rows, err
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func rowsAffected(span *trace.Span, r driver.Result) {
	if span == nil {
		return
	}
	if n, err := r.RowsAffected(); err == nil {
		span.SetAttrs(trace.Int64(AttrRowsAffected, n))
	}
}

// txn is a traced transaction.
type txn struct {
	tx  driver.Tx
	t   *tracer
	ctx context.Context
}

func (t *txn) Commit() error {
	_, span := t.t.start(t.ctx, "commit", "")
	err := t.tx.Commit()
	end(span, err)
	return err
}

func (t *txn) Rollback() error {
	_, span := t.t.start(t.ctx, "rollback", "")
	err := t.tx.Rollback()
	end(span, err)
	return err
}

// stmt is a traced prepared statement.
type stmt struct {
	s     driver.Stmt
	c     driver.Conn // the wrapped connection, whose value checker applies when the statement has none
	t     *tracer
	query string
}

var (
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

func (s *stmt) Close() error  { return s.s.Close() }
func (s *stmt) NumInput() int { return s.s.NumInput() }

//lint:ignore SA1019 required by driver.Stmt
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	_, span := s.t.start(context.Background(), "exec", s.query)
	r, err := s.s.Exec(args) //nolint:staticcheck
	if err == nil && r != nil {
		rowsAffected(span, r)
	}
	end(span, err)
	return r, err
}

//lint:ignore SA1019 required by driver.Stmt
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	_, span := s.t.start(context.Background(), "query", s.query)
	r, err := s.s.Query(args) //nolint:staticcheck
	end(span, err)
	return r, err
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	_, span := s.t.start(ctx, "exec", s.query)
	var r driver.Result
	var err error
	if ec, ok := s.s.(driver.StmtExecContext); ok {
		r, err = ec.ExecContext(ctx, args)
	} else {
		var v []driver.Value
		if v, err = namedToValues(args); err == nil {
			r, err = s.s.Exec(v) //nolint:staticcheck
		}
	}
	if err == nil && r != nil {
		rowsAffected(span, r)
	}
	end(span, err)
	return r, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	_, span := s.t.start(ctx, "query", s.query)
	var r driver.Rows
	var err error
	if qc, ok := s.s.(driver.StmtQueryContext); ok {
		r, err = qc.QueryContext(ctx, args)
	} else {
		var v []driver.Value
		if v, err = namedToValues(args); err == nil {
			r, err = s.s.Query(v) //nolint:staticcheck
		}
	}
	end(span, err)
	return r, err
}

func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.s.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	if ch, ok := s.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	//lint:ignore SA1019 legacy drivers
	if cc, ok := s.s.(driver.ColumnConverter); ok { //nolint:staticcheck
		v, err := cc.ColumnConverter(nv.Ordinal - 1).ConvertValue(nv.Value)
		if err != nil {
			return err
		}
		nv.Value = v
		return nil
	}
	return driver.ErrSkip
}
