package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/dataport/dataport"
)

// Group commit. Every write transaction of the process goes through one committer,
// which runs the work of many callers inside one database transaction — each in a
// savepoint of its own, so that one caller's failure rolls back only its own changes
// and filings — and commits them together. Callers are acknowledged only after that
// commit is durable. One commit (one fsync) for many changes is what lets the
// exchange file tens of thousands of changes a second on one disk; the result for
// each caller is the same as if its transaction had run alone, one after another.
//
// There is no waiting to fill a batch: the committer takes whatever has queued up
// while the previous commit was on its way to disk, so a lone request commits at
// once and a busy exchange commits in large groups.

// maxGroup bounds the callers in one commit, so one commit's latency stays bounded.
const maxGroup = 512

type writeRequest struct {
	ctx      context.Context
	mustFile bool
	fn       func(tx *Tx) error
	done     chan error
	panicked any
	stack    []byte
}

type committer struct {
	// closing guards enqueueing against Close: once closed is set, nothing more
	// enters the queue, so the last drain answers every request.
	closing sync.RWMutex
	closed  bool
	once    sync.Once
	queue   chan *writeRequest
	stop    chan struct{}
	wg      sync.WaitGroup
	// The committer keeps one connection, with its prepared statements, for as
	// long as it works; it takes a new one after an error.
	stmts stmtCache
}

func (db *DB) commit(ctx context.Context, mustFile bool, fn func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return unavailable("store.Write", err)
	}
	db.committer.once.Do(func() {
		db.committer.queue = make(chan *writeRequest, 4*maxGroup)
		db.committer.stop = make(chan struct{})
		db.committer.wg.Add(1)
		go db.commitLoop()
	})
	req := &writeRequest{ctx: ctx, mustFile: mustFile, fn: fn, done: make(chan error, 1)}
	db.committer.closing.RLock()
	if db.committer.closed {
		db.committer.closing.RUnlock()
		return dataport.Errorf("store.Write", dataport.KindUnavailable, "the database is closed")
	}
	select {
	case db.committer.queue <- req:
	case <-ctx.Done():
		db.committer.closing.RUnlock()
		return unavailable("store.Write", ctx.Err())
	}
	db.committer.closing.RUnlock()
	// Once queued, the request is answered: never abandon it, or a change could
	// commit after its caller was told it failed.
	err := <-req.done
	if req.panicked != nil {
		panic(fmt.Sprintf("%v\n\nin a write transaction:\n%s", req.panicked, req.stack))
	}
	return reclassify("store.Write", err)
}

func (db *DB) commitLoop() {
	defer db.committer.wg.Done()
	defer db.dropConn()
	for {
		var first *writeRequest
		select {
		case first = <-db.committer.queue:
		case <-db.committer.stop:
			db.failQueued()
			return
		}
		group := []*writeRequest{first}
	fill:
		for len(group) < maxGroup {
			select {
			case r := <-db.committer.queue:
				group = append(group, r)
			default:
				break fill
			}
		}
		db.commitGroup(group)
	}
}

// failQueued answers requests still queued when the database closes.
func (db *DB) failQueued() {
	for {
		select {
		case r := <-db.committer.queue:
			r.done <- dataport.Errorf("store.Write", dataport.KindUnavailable, "the database is closed")
		default:
			return
		}
	}
}

// commitGroup runs each request in a savepoint of one transaction and commits it.
func (db *DB) commitGroup(group []*writeRequest) {
	const op = "store.Write"
	// The statements run under a context of their own: a caller that gives up must
	// not abort the transaction the others share. Its work is skipped if it gave
	// up before it started.
	ctx := context.Background()
	c := &db.committer.stmts
	// The committer owns its connection, so it opens and closes the transaction
	// itself, with SQL: statements prepared on the connection then run inside it
	// without being prepared again for every transaction.
	begin := "BEGIN"
	if db.engine == SQLite {
		begin = "BEGIN IMMEDIATE"
	}
	// The connection kept from an earlier group may have broken since (PostgreSQL
	// went away and came back): nothing has run on it yet, so the group begins
	// again, once, on a new connection, and the first writes after an outage
	// succeed.
	for fresh := false; ; fresh = true {
		if c.conn == nil {
			conn, err := db.write.Conn(ctx)
			if err != nil {
				for _, r := range group {
					r.done <- unavailable(op, err)
				}
				return
			}
			c.conn, fresh = conn, true
		}
		_, err := c.conn.ExecContext(ctx, begin)
		if err == nil {
			break
		}
		db.dropConn()
		if !fresh && db.engine == Postgres && IsUnavailable(err) {
			continue
		}
		for _, r := range group {
			r.done <- unavailable(op, err)
		}
		return
	}
	stx := c.conn
	// Replicas on one PostgreSQL database: a group that files takes the filing
	// sequence's row lock (ledger.File takes it at the group's first filing) before
	// any other row, so that every such group locks in one order. Taken later, two
	// replicas' groups could each hold what the other waits for — one a balance row
	// and then the sequence, the other the sequence and then that balance — and
	// PostgreSQL would abort one as a deadlock (40P01).
	if db.engine == Postgres && slices.ContainsFunc(group, func(r *writeRequest) bool { return r.mustFile }) {
		if _, err := stx.ExecContext(ctx, `SELECT 1 FROM filing_sequence WHERE id = 1 FOR UPDATE`); err != nil {
			if _, e := stx.ExecContext(ctx, "ROLLBACK"); e != nil {
				db.dropConn()
			}
			for _, r := range group {
				r.done <- unavailable(op, err)
			}
			return
		}
	}
	results := make([]error, len(group))
	committed := 0
	g := &writeGroup{}
	for i, r := range group {
		results[i] = db.runInSavepoint(ctx, stx, g, r)
		if results[i] == nil && r.panicked == nil {
			committed++
		}
	}
	if committed > 0 {
		end := &Tx{ctx: ctx, tx: stx, db: db, now: db.clock.Now().UTC(), stmts: &db.committer.stmts, group: g}
		for _, fn := range g.atEnd {
			if err := fn(end); err != nil {
				err = dataport.Internal(op, err)
				for i := range results {
					if results[i] == nil {
						results[i] = err
					}
				}
				committed = 0
				break
			}
		}
	}
	if committed == 0 {
		if _, err := stx.ExecContext(ctx, "ROLLBACK"); err != nil {
			db.dropConn()
		}
		for i, r := range group {
			r.done <- results[i]
		}
		return
	}
	// PostgreSQL answers COMMIT of a transaction that an error aborted with a
	// silent ROLLBACK, not an error: ask it first whether the transaction still
	// stands, so that nothing is acknowledged that was not committed.
	if db.engine == Postgres {
		if _, err := stx.ExecContext(ctx, "SELECT 1"); err != nil {
			if _, e := stx.ExecContext(ctx, "ROLLBACK"); e != nil {
				db.dropConn() // the connection went away: the next group takes a new one
			}
			err = dataport.Internal(op, fmt.Errorf("the group's transaction was aborted: %w", err))
			for i, r := range group {
				if results[i] == nil {
					results[i] = err
				}
				r.done <- results[i]
			}
			return
		}
	}
	if _, err := stx.ExecContext(ctx, "COMMIT"); err != nil {
		// The outcome of a failed COMMIT is unknown to us; roll back what may be
		// left open and start afresh on a new connection.
		stx.ExecContext(ctx, "ROLLBACK")
		db.dropConn()
		err = unavailable(op, err)
		for i, r := range group {
			if results[i] == nil {
				results[i] = err
			}
			r.done <- results[i]
		}
		return
	}
	for _, fn := range db.onCommit {
		fn()
	}
	for i, r := range group {
		r.done <- results[i]
	}
}

func (db *DB) runInSavepoint(ctx context.Context, stx *sql.Conn, g *writeGroup, r *writeRequest) (err error) {
	const op = "store.Write"
	if err := r.ctx.Err(); err != nil {
		return unavailable(op, err)
	}
	// The savepoint is taken lazily, before the request's first statement: work
	// that runs no SQL of its own (a filing is staged in memory and written at the
	// group's end) costs no savepoint. Requests run one after another, each
	// savepoint released or rolled back before the next, so one name serves all.
	tx := &Tx{ctx: ctx, tx: stx, db: db, now: db.clock.Now().UTC(), stmts: &db.committer.stmts, group: g}
	rollback := func() error {
		for i := len(tx.onRollback) - 1; i >= 0; i-- {
			tx.onRollback[i]()
		}
		if !tx.savepoint {
			return nil
		}
		tx.savepoint = false
		if _, e := tx.exec("ROLLBACK TO SAVEPOINT w"); e != nil {
			return e
		}
		_, e := tx.exec("RELEASE SAVEPOINT w")
		return e
	}
	defer func() {
		if p := recover(); p != nil {
			r.panicked, r.stack = p, debug.Stack()
			if e := rollback(); e != nil {
				err = dataport.Internal(op, e)
			}
		}
	}()
	err = r.fn(tx)
	if err == nil && r.mustFile && tx.filed == 0 {
		err = dataport.Internal(op, errors.New("write transaction filed nothing: every change must be filed"))
	}
	if err == nil && r.mustFile && db.before != nil {
		err = db.before(r.ctx)
	}
	if err != nil {
		if e := rollback(); e != nil {
			return dataport.Internal(op, fmt.Errorf("%v; and rolling back: %w", err, e))
		}
		return err
	}
	if tx.savepoint {
		if _, e := tx.exec("RELEASE SAVEPOINT w"); e != nil {
			return dataport.Internal(op, e)
		}
	}
	return nil
}

// group is what the requests committed together share: values a capability keeps
// for the group (the ledger's staged filings), and work to do at its end.
type writeGroup struct {
	values map[any]any
	atEnd  []func(tx *Tx) error
}

// GroupValue returns the value kept under key for the transaction group, made by
// init the first time. A capability uses it to batch work across the requests
// committed together; it must undo its part of a request that rolls back (see
// OnRollback) and finish in an AtGroupEnd function.
func (tx *Tx) GroupValue(key any, init func() any) any {
	if tx.group == nil {
		panic("store: GroupValue outside a write transaction")
	}
	if v, ok := tx.group.values[key]; ok {
		return v
	}
	if tx.group.values == nil {
		tx.group.values = map[any]any{}
	}
	v := init()
	tx.group.values[key] = v
	return v
}

// AtGroupEnd registers fn to run once the group's requests have run, before the
// commit. An error fails every request of the group.
func (tx *Tx) AtGroupEnd(fn func(tx *Tx) error) { tx.group.atEnd = append(tx.group.atEnd, fn) }

// OnRollback registers fn to run if this request rolls back.
func (tx *Tx) OnRollback(fn func()) { tx.onRollback = append(tx.onRollback, fn) }

// ExecGroup runs a statement at the level of the group's transaction, outside the
// request's savepoint: only for statements whose effect does not depend on the
// request succeeding (taking a lock, say).
func (tx *Tx) ExecGroup(query string, args ...any) (sql.Result, error) {
	return tx.exec(query, args...)
}

// QueryRowGroup is ExecGroup for a query.
func (tx *Tx) QueryRowGroup(query string, args ...any) *sql.Row {
	if st := tx.stmt(query); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, query, args...)
}

// dropConn gives the committer's connection back, after an error or at the end.
func (db *DB) dropConn() {
	c := &db.committer.stmts
	c.close()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}
