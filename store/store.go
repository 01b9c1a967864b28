// Package store opens the exchange's database, SQLite (embedded, the default) or
// PostgreSQL (for scale), applies the embedded migrations and runs every service's
// work in transactions.
//
// Both engines take the same SQL: placeholders are written $1, $2 … (SQLite binds
// $NNN by ordinal), times are stored as fixed-width UTC text so they sort the same
// everywhere, and where the dialects truly differ a migration has one file per
// engine. The shared conformance suite in storetest proves the engines behave alike.
//
// Every write transaction must file what it changed (ARCHITECTURE principle 1):
// Write refuses to commit a transaction in which no filing was recorded.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Options adjust Open. The zero value is right for production.
type Options struct {
	// Clock is the exchange's one clock; SystemClock when nil.
	Clock dataport.Clock
	// BeforeCommit, when set, runs at the end of every write transaction, after the
	// work and its filings and before the commit; an error aborts the transaction.
	// Tests use it to prove that a change and its filing stand or fall together.
	BeforeCommit func(ctx context.Context) error
	// SkipMigrations opens the database as it is.
	SkipMigrations bool
}

// DB is an open exchange database.
type DB struct {
	committer committer
	closeOnce sync.Once
	onCommit  []func() // called after every committed Write; see OnCommit
	engine    Engine
	write     *sql.DB // SQLite: one connection, BEGIN IMMEDIATE; PostgreSQL: the pool
	read      *sql.DB // SQLite: several query-only connections; PostgreSQL: the pool
	clock     dataport.Clock
	before    func(ctx context.Context) error
	path      string // SQLite: the database file

	leadMu  sync.Mutex
	leading map[string]bool // the roles this process holds (Lead)
}

// Open opens the database named by dsn and applies pending migrations.
//
//	sqlite:/path/to/dataport.db
//	postgres://user@host:5432/dbname?sslmode=disable
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	const op = "store.Open"
	db := &DB{clock: opts.Clock, before: opts.BeforeCommit}
	if db.clock == nil {
		db.clock = dataport.SystemClock{}
	}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		err = db.openSQLite(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = db.openPostgres(dsn)
	default:
		return nil, dataport.Errorf(op, dataport.KindInvalid, "database %q: want sqlite:PATH or postgres://…", redact(dsn))
	}
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, dataport.Wrap(op, err)
	}
	if !opts.SkipMigrations {
		if err := db.migrate(ctx); err != nil {
			db.Close()
			return nil, dataport.Wrap(op, err)
		}
	}
	return db, nil
}

func (db *DB) openSQLite(path string) error {
	if path == "" {
		return errors.New("sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	// WAL lets readers run beside the writer; foreign keys are off by default in
	// SQLite; the busy timeout covers another process holding the write lock.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a commit is on disk before it is acknowledged, power loss included
	// ("nothing acknowledged is ever lost"); NORMAL would only survive a crash.
	q.Add("_pragma", "synchronous(FULL)")
	base := "file:" + path + "?"
	// Writers take the lock at BEGIN: a deferred transaction that reads and then
	// writes can fail with SQLITE_BUSY where the busy timeout does not help.
	w, err := sql.Open("sqlite", base+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", base+q.Encode())
	if err != nil {
		w.Close()
		return err
	}
	r.SetMaxOpenConns(8)
	// Keep every reader open: database/sql keeps 2 idle by default, so under load the
	// others were closed and reopened, and each new SQLite connection parses the
	// whole schema again.
	r.SetMaxIdleConns(8)
	db.engine, db.write, db.read, db.path = SQLite, w, r, path
	return nil
}

func (db *DB) openPostgres(dsn string) error {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(32) // reopening a PostgreSQL connection costs a round trip and a backend
	p.SetConnMaxIdleTime(5 * time.Minute)
	db.engine, db.write, db.read = Postgres, p, p
	return nil
}

// Engine tells which engine is open.
func (db *DB) Engine() Engine { return db.engine }

// Clock is the exchange's clock.
func (db *DB) Clock() dataport.Clock { return db.clock }

// Ping checks that the database answers. (It asks the read pool: the committer may
// hold SQLite's one write connection for good.)
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return unavailable("store.Ping", err)
	}
	return nil
}

// Close stops the committer, answering writes still queued with KindUnavailable, and
// closes the database.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.committer.closing.Lock()
		db.committer.closed = true
		db.committer.closing.Unlock()
		db.committer.once.Do(func() { db.committer.stop = make(chan struct{}) }) // never started
		if db.committer.stop != nil {
			close(db.committer.stop)
		}
		db.committer.wg.Wait()
		db.failQueued() // any request that raced the stop
	})
	err := db.write.Close()
	if db.read != db.write {
		if e := db.read.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Tx is a transaction in progress. Its methods use the context it was begun with.
type Tx struct {
	group      *writeGroup // the write group; nil in read transactions
	savepoint  bool        // the request's savepoint is open
	onRollback []func()
	stmts      *stmtCache // the committer's prepared statements; nil in read transactions
	ctx        context.Context
	tx         queryer // a *sql.Tx, or the committer's *sql.Conn inside BEGIN … COMMIT
	db         *DB
	now        time.Time
	filed      int
}

// Context is the context the transaction runs in.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Engine tells which engine the transaction runs on.
func (tx *Tx) Engine() Engine { return tx.db.engine }

// Now is the time of the transaction: read once from the clock when it began, so
// that every record and filing it writes carries the same time.
func (tx *Tx) Now() time.Time { return tx.now }

// begin opens the request's savepoint before its first statement.
func (tx *Tx) begin() error {
	if tx.group == nil || tx.savepoint {
		return nil
	}
	if _, err := tx.exec("SAVEPOINT w"); err != nil {
		return err
	}
	tx.savepoint = true
	return nil
}

// Exec runs a statement.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	if err := tx.begin(); err != nil {
		return nil, err
	}
	return tx.exec(query, args...)
}

func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	if st := tx.stmt(query); st != nil {
		return st.ExecContext(tx.ctx, args...)
	}
	return tx.tx.ExecContext(tx.ctx, query, args...)
}

// Query runs a query.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	if err := tx.begin(); err != nil {
		return nil, err
	}
	if st := tx.stmt(query); st != nil {
		return st.QueryContext(tx.ctx, args...)
	}
	return tx.tx.QueryContext(tx.ctx, query, args...)
}

// QueryRow runs a query expected to return at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	if err := tx.begin(); err != nil {
		// *sql.Row carries no error of its own making: run a query that fails the
		// same way, by asking a connection that is not usable.
		return tx.tx.QueryRowContext(canceled, "SELECT 1")
	}
	if st := tx.stmt(query); st != nil {
		return st.QueryRowContext(tx.ctx, args...)
	}
	return tx.tx.QueryRowContext(tx.ctx, query, args...)
}

// stmt returns the query prepared on the transaction's connection, from a cache of
// prepared statements: parsing SQL is most of the cost of a small statement. Queries
// beyond the cache's size (dynamic IN lists, say) run unprepared.
func (tx *Tx) stmt(query string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	st, err := tx.stmts.get(tx.ctx, query)
	if err != nil || st == nil {
		return nil
	}
	return st
}

var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// queryer is what a transaction's statements run on.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache holds statements prepared on the committer's connection, by query text,
// up to a bound. Only the committer uses it, so it needs no lock.
type stmtCache struct {
	conn *sql.Conn
	m    map[string]*sql.Stmt
}

const maxCachedStmts = 256

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	if len(c.m) >= maxCachedStmts {
		return nil, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// Strings runs a query that returns one text column and collects it: the list of
// ids most loops over records start from.
func (tx *Tx) Strings(query string, args ...any) ([]string, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// NoteFiling records that a filing was written in this transaction. The ledger calls
// it; nothing else should.
func (tx *Tx) NoteFiling() { tx.filed++ }

// Write runs fn in a read-write transaction and commits it when fn returns nil. The
// transaction must have filed at least one filing (ARCHITECTURE principle 1);
// otherwise it is rolled back and Write returns an internal error. Any error from fn
// rolls everything back and is returned as it is.
func (db *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	return db.run(ctx, false, fn)
}

// Read runs fn in a read-only transaction: a consistent view of the database.
func (db *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	return db.run(ctx, true, fn)
}

// WriteDerived runs fn in a read-write transaction that files nothing. It is only for
// records derived from filings — the Merkle log's hashes and checkpoints — which are
// not changes of their own; every business change goes through Write.
func (db *DB) WriteDerived(ctx context.Context, fn func(tx *Tx) error) error {
	return db.runTx(ctx, false, false, fn)
}

// OnCommit registers fn to run after every committed Write, in the committing
// goroutine: it must return at once (the ledger uses it to wake its integrator).
// Register before serving; it is not safe to call concurrently with Write.
func (db *DB) OnCommit(fn func()) { db.onCommit = append(db.onCommit, fn) }

func (db *DB) run(ctx context.Context, readOnly bool, fn func(tx *Tx) error) error {
	return db.runTx(ctx, readOnly, !readOnly, fn)
}

func (db *DB) runTx(ctx context.Context, readOnly, mustFile bool, fn func(tx *Tx) error) error {
	if !readOnly {
		return db.commit(ctx, mustFile, fn)
	}
	const op = "store.Read"
	var txo *sql.TxOptions
	if db.engine == Postgres {
		txo = &sql.TxOptions{ReadOnly: true}
	}
	stx, err := db.read.BeginTx(ctx, txo)
	if err != nil {
		return unavailable(op, err)
	}
	defer stx.Rollback()
	if err := fn(&Tx{ctx: ctx, tx: stx, db: db, now: db.clock.Now().UTC()}); err != nil {
		return reclassify(op, err)
	}
	return unavailable(op, stx.Commit())
}

// IsUniqueViolation reports whether err is a unique or primary-key constraint
// violation on either engine.
func IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// ConstraintName returns, when err is a constraint violation, the text that names
// the constraint or columns involved (engine-specific), for mapping to a field.
func ConstraintName(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Error()
	}
	return ""
}

// timeLayout stores times as fixed-width UTC text: it sorts lexically in time order on
// both engines.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t for storage; the zero time is stored as "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// ParseTime reads a stored time; "" is the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

// redact hides a password in a database URL before it is shown.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}
