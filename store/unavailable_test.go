package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/internal/faultproxy"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

var faultActor = dataport.Actor{ParticipantID: "prt_faults", KeyID: "key_faults"}

// within runs f, failing the test if it has not returned after a minute: a database
// that went away must make requests fail, never hang. (The bound is only a guard
// against a hang, far above any answer, not a measure of speed.)
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	out := make(chan T, 1)
	go func() { out <- f() }()
	select {
	case v := <-out:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s hangs while the database is away", what)
		panic("unreachable")
	}
}

func createNotes(t *testing.T, db *store.DB) {
	t.Helper()
	err := db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`CREATE TABLE notes (id TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		_, err := ledger.File(tx, faultActor, ledger.Change{Type: "faults.setup", Subjects: []string{"faults"}, Payload: map[string]any{}})
		return err
	})
	if err != nil {
		t.Fatalf("notes table: %v", err)
	}
}

// addNote writes a note as the services write: the statement's error wrapped as
// internal, as a service does not know a lost connection from a bad query.
func addNote(db *store.DB, id string) error {
	return db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO notes (id) VALUES ($1)`, id); err != nil {
			return dataport.Internal("faults.addNote", err)
		}
		_, err := ledger.File(tx, faultActor, ledger.Change{Type: "faults.noted", Subjects: []string{id}, Payload: map[string]any{"id": id}})
		return err
	})
}

func notes(db *store.DB) (map[string]bool, error) {
	out := map[string]bool{}
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		ids, err := tx.Strings(`SELECT id FROM notes`)
		if err != nil {
			return dataport.Internal("faults.notes", err)
		}
		for _, id := range ids {
			out[id] = true
		}
		return nil
	})
	return out, err
}

// TestPostgresAwayAndBack puts a TCP proxy between the store and PostgreSQL, cuts
// every connection and refuses new ones, then lets them through again: while the
// database is away every read, write and ping fails with KindUnavailable (never
// internal, never a hang); once it is back the same DB serves again, without being
// reopened; and every write acknowledged before, during or after is there.
func TestPostgresAwayAndBack(t *testing.T) {
	u, err := url.Parse(storetest.DSN(t, store.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.ListenTCP(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	u.Host = proxy.Addr()
	db, err := store.Open(context.Background(), u.String(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createNotes(t, db)

	acked := map[string]bool{}
	for i := range 20 {
		id := fmt.Sprintf("before-%d", i)
		if err := addNote(db, id); err != nil {
			t.Fatalf("write before the outage: %v", err)
		}
		acked[id] = true
	}
	if _, err := notes(db); err != nil { // the pool holds open connections now
		t.Fatal(err)
	}

	// The connection goes away in the middle of a transaction, between two of its
	// statements: the service wraps the failed statement as internal, the store
	// knows it for a lost connection.
	err = db.Read(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Strings(`SELECT id FROM notes`); err != nil {
			return dataport.Internal("faults.read", err)
		}
		proxy.Down()
		if _, err := tx.Strings(`SELECT id FROM notes`); err != nil {
			return dataport.Internal("faults.read", err)
		}
		return nil
	})
	if k := dataport.KindOf(err); err == nil || k != dataport.KindUnavailable {
		t.Fatalf("read cut mid-transaction: kind %v, want unavailable: %v", k, err)
	}
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	if err := addNote(db, "between"); err != nil {
		t.Fatalf("the first write after the database returned: %v", err)
	}
	acked["between"] = true
	err = db.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO notes (id) VALUES ('cut')`); err != nil {
			return dataport.Internal("faults.write", err)
		}
		proxy.Down()
		if _, err := tx.Exec(`INSERT INTO notes (id) VALUES ('cut-2')`); err != nil {
			return dataport.Internal("faults.write", err)
		}
		_, err := ledger.File(tx, faultActor, ledger.Change{Type: "faults.noted", Subjects: []string{"cut"}, Payload: map[string]any{}})
		return err
	})
	if k := dataport.KindOf(err); err == nil || k != dataport.KindUnavailable {
		t.Fatalf("write cut mid-transaction: kind %v, want unavailable: %v", k, err)
	}

	proxy.Down()
	refused := map[string]bool{"cut": true, "cut-2": true}
	for i := range 5 {
		id := fmt.Sprintf("during-%d", i)
		err := within(t, "a write", func() error { return addNote(db, id) })
		if err == nil {
			t.Fatalf("a write succeeded with the database away")
		}
		if k := dataport.KindOf(err); k != dataport.KindUnavailable {
			t.Fatalf("write while the database is away: kind %v, want unavailable: %v", k, err)
		}
		refused[id] = true
		err = within(t, "a read", func() error { _, e := notes(db); return e })
		if k := dataport.KindOf(err); err == nil || k != dataport.KindUnavailable {
			t.Fatalf("read while the database is away: kind %v, want unavailable: %v", k, err)
		}
		if err := within(t, "a ping", func() error { return db.Ping(context.Background()) }); dataport.KindOf(err) != dataport.KindUnavailable {
			t.Fatalf("ping while the database is away: %v", err)
		}
	}

	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	// The first requests after the database returns succeed: the pool and the
	// committer drop the connections the outage broke and open new ones.
	for i := range 20 {
		id := fmt.Sprintf("after-%d", i)
		if err := addNote(db, id); err != nil {
			t.Fatalf("write %d after the database returned: %v", i, err)
		}
		acked[id] = true
	}
	have, err := notes(db)
	if err != nil {
		t.Fatalf("read after the database returned: %v", err)
	}
	for id := range acked {
		if !have[id] {
			t.Errorf("acknowledged note %s is lost", id)
		}
	}
	for id := range refused {
		if have[id] {
			t.Errorf("note %s is stored although its write failed", id)
		}
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("ping after the database returned: %v", err)
	}
}

// TestPostgresTerminatedBackends ends the store's server processes with
// pg_terminate_backend, as an administrator or a failover does: the server answers
// the next statement on each connection with 57P01 (admin_shutdown) or closes it.
// Requests on those connections fail as unavailable, not internal, and the store
// goes on with new connections.
func TestPostgresTerminatedBackends(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	app := "dataport_faults_" + rand.Text()[:8]
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	db, err := store.Open(context.Background(), u.String(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createNotes(t, db)
	if err := addNote(db, "before"); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var ended int
	if err := admin.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&ended); err != nil {
		t.Fatal(err)
	}
	if ended == 0 {
		t.Fatal("no backend of the store's to terminate")
	}
	acked := map[string]bool{"before": true}
	for i := range 10 {
		id := fmt.Sprintf("after-%d", i)
		err := addNote(db, id)
		switch {
		case err == nil:
			acked[id] = true
		case dataport.KindOf(err) != dataport.KindUnavailable:
			t.Fatalf("write on a terminated connection: kind %v, want unavailable: %v", dataport.KindOf(err), err)
		case i > 0:
			t.Fatalf("write %d still fails after the terminated connection was dropped: %v", i, err)
		}
	}
	have, err := notes(db)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	for id := range acked {
		if !have[id] {
			t.Errorf("acknowledged note %s is lost", id)
		}
	}
}

// TestSQLiteBusyIsUnavailable: SQLite has no connection to lose, but another process
// can hold the write lock for longer than the busy timeout. The write that waited
// fails as unavailable (503, retry), not internal, and once the lock is let go the
// next write succeeds.
func TestSQLiteBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dataport.db")
	db, err := store.Open(context.Background(), "sqlite:"+path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	createNotes(t, db)
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	err = within(t, "a write", func() error { return addNote(db, "locked out") })
	if k := dataport.KindOf(err); err == nil || k != dataport.KindUnavailable {
		t.Fatalf("write while another process holds the lock: kind %v, want unavailable: %v", k, err)
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := addNote(db, "let in"); err != nil {
		t.Fatalf("write after the lock was let go: %v", err)
	}
	have, err := notes(db)
	if err != nil || !have["let in"] || have["locked out"] {
		t.Fatalf("notes %v (%v)", have, err)
	}
}

// A request refused for what it asked keeps its kind even when it ends on a broken
// connection: only internal errors are reclassified.
func TestUnavailableKeepsOtherKinds(t *testing.T) {
	db := storetest.Open(t, store.SQLite, store.Options{})
	conflict := dataport.Errorf("faults.test", dataport.KindConflict, "taken")
	err := db.Read(context.Background(), func(tx *store.Tx) error {
		return fmt.Errorf("%w: %w", conflict, sql.ErrConnDone)
	})
	if dataport.KindOf(err) != dataport.KindConflict {
		t.Fatalf("kind %v, want conflict: %v", dataport.KindOf(err), err)
	}
	err = db.Read(context.Background(), func(tx *store.Tx) error {
		return dataport.Internal("faults.test", fmt.Errorf("query: %w", sql.ErrConnDone))
	})
	if dataport.KindOf(err) != dataport.KindUnavailable {
		t.Fatalf("kind %v, want unavailable: %v", dataport.KindOf(err), err)
	}
	bug := errors.New(`syntax error at or near "SELEC"`)
	err = db.Read(context.Background(), func(tx *store.Tx) error { return dataport.Internal("faults.test", bug) })
	if dataport.KindOf(err) != dataport.KindInternal || !errors.Is(err, bug) {
		t.Fatalf("kind %v, want internal: %v", dataport.KindOf(err), err)
	}
}
