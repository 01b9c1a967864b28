package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// TestLeadOneAtATime opens one database twice, as two replicas would, and checks
// that one handle leads a role at a time, that the other takes over when the
// leader gives the role up, and — on PostgreSQL — when the leader's lock session is
// killed under it.
func TestLeadOneAtATime(t *testing.T) {
	defer func(d time.Duration) { store.LeadRetry = d }(store.LeadRetry)
	store.LeadRetry = 20 * time.Millisecond
	storetest.ForEachEngine(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		open := func() *store.DB {
			db, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		a, b := open(), open()
		const role = "test-role"
		var leaders atomic.Int32
		took := make(chan string, 8)
		lead := func(db *store.DB, name string) (stop func()) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				db.Lead(ctx, role, func(ctx context.Context) {
					if n := leaders.Add(1); n > 1 {
						t.Errorf("%s leads while %d others do", name, n-1)
					}
					took <- name
					<-ctx.Done()
					leaders.Add(-1)
				})
			}()
			return func() { cancel(); <-done }
		}
		next := func() string {
			t.Helper()
			select {
			case name := <-took:
				return name
			case <-time.After(30 * time.Second):
				t.Fatal("no one took the role")
				return ""
			}
		}

		stopA := lead(a, "a")
		if got := next(); got != "a" {
			t.Fatalf("%s took the role, want a", got)
		}
		stopB := lead(b, "b")
		defer stopB()
		// b tries every LeadRetry; give it many tries while a holds the role.
		select {
		case name := <-took:
			t.Fatalf("%s took the role while a held it", name)
		case <-time.After(50 * store.LeadRetry):
		}
		if !a.Leading(role) || b.Leading(role) {
			t.Fatalf("Leading: a %v, b %v; want a only", a.Leading(role), b.Leading(role))
		}
		stopA()
		if got := next(); got != "b" {
			t.Fatalf("%s took the role after a gave it up, want b", got)
		}
		if a.Leading(role) || !b.Leading(role) {
			t.Fatalf("Leading: a %v, b %v; want b only", a.Leading(role), b.Leading(role))
		}
		if engine != store.Postgres {
			return
		}

		// Kill b's lock session from outside, as a cut connection or a crashed host
		// would: the server drops the lock with the session, b notices at its next
		// check and steps down, and the role is free for a.
		admin := open()
		var killed int
		err := admin.Read(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow(`SELECT COUNT(pg_terminate_backend(l.pid)) FROM pg_locks l
				WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(current_schema() || ' dataport lead ' || $1, 0)`, role).Scan(&killed)
		})
		if err != nil || killed != 1 {
			t.Fatalf("terminate the lock session: %d sessions, %v", killed, err)
		}
		for deadline := time.Now().Add(30 * time.Second); b.Leading(role); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("b still leads after its lock session was killed")
			}
		}
		stopA = lead(a, "a")
		defer stopA()
		if got := next(); got != "a" && got != "b" {
			t.Fatalf("%s took the role", got)
		}
	})
}
